package bootinit

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Diagnose writes why the boot failed: the error and every block device
// the kernel knows, with size, GPT partition name and filesystem label.
func Diagnose(w io.Writer, err error, devs []BlockDevice, scanErr error) {
	lg := log.New(w, "appliance-init: ", 0)
	lg.Printf("BOOT FAILED: %v", err)
	var nf *DeviceNotFoundError
	if errors.As(err, &nf) {
		return // it already lists what was found
	}
	if scanErr != nil {
		lg.Printf("cannot list block devices: %v", scanErr)
		return
	}
	lg.Printf("found %d block devices:", len(devs))
	for _, d := range devs {
		lg.Printf("  %s", d)
	}
}

// fail reports err and never returns: it starts the rescue shell when the
// command line asks for it and the initramfs has one, else it repeats a
// short message every minute.
func fail(lg *log.Logger, cfg Config, err error) {
	devs, scanErr := ScanBlockDevices("/sys", "/dev")
	Diagnose(lg.Writer(), err, devs, scanErr)
	if cfg.Rescue {
		if _, statErr := os.Stat(bootparam.InitramfsRescueShell); statErr == nil {
			lg.Printf("starting rescue shell %s", bootparam.InitramfsRescueShell)
			execErr := unix.Exec(bootparam.InitramfsRescueShell, []string{bootparam.InitramfsRescueShell}, []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/"})
			lg.Printf("rescue shell: %v", execErr)
		} else {
			lg.Printf("%s=1 but this initramfs has no rescue shell", bootparam.ArgRescue)
		}
	}
	for {
		lg.Printf("boot failed (%v); fix the boot media or command line and reset the machine", firstLine(err))
		time.Sleep(failInterval)
	}
}

func firstLine(err error) string {
	s := err.Error()
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// resizePartition tells the kernel a partition's new size with BLKPG,
// falling back to re-reading the whole table.
func resizePartition(disk *os.File, res GrowResult) error {
	p := unix.BlkpgPartition{
		Start:  res.Start * res.SectorSize,
		Length: (res.NewEnd - res.Start + 1) * res.SectorSize,
		Pno:    int32(res.Number),
	}
	arg := unix.BlkpgIoctlArg{
		Op:      unix.BLKPG_RESIZE_PARTITION,
		Datalen: int32(unsafe.Sizeof(p)),
		Data:    (*byte)(unsafe.Pointer(&p)),
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg)))
	if errno == 0 {
		return nil
	}
	if err := unix.IoctlSetInt(int(disk.Fd()), unix.BLKRRPART, 0); err != nil {
		return fmt.Errorf("BLKPG resize: %v; BLKRRPART: %w", errno, err)
	}
	return nil
}
