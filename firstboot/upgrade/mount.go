package upgrade

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// ESPMountPoint is where MountESP mounts the ESP when it is not mounted
// already.
const ESPMountPoint = "/run/appliance/esp"

// espPartLabelLink is udev's link to the ESP.
const espPartLabelLink = "/dev/disk/by-partlabel/" + bootparam.LabelESP

// MountESP finds the ESP of the disk the node booted from (FindESP) and
// returns it mounted: where it is mounted read-write already, or mounted
// (vfat) at ESPMountPoint under root. unmount undoes MountESP's own mount
// and does nothing for a mount it found.
func MountESP(root string, running bootslot.Slot) (esp *ESP, unmount func() error, err error) {
	dev, err := FindESP(root, running)
	if err != nil {
		return nil, nil, err
	}
	return mountDevice(filepath.Join(root, dev), filepath.Join(root, "proc/self/mountinfo"), filepath.Join(root, ESPMountPoint))
}

// FindESP returns the device (/dev/<name>) of the partition labelled
// bootparam.LabelESP on the disk that holds the running slot's partition,
// as /sys/class/block under root lists them (bootinit.ScanBlockDevices,
// as the init finds its partitions). Another disk's ESP, such as a USB
// stick left in with an image on it, is not taken. When /sys cannot be
// read, it falls back to udev's /dev/disk/by-partlabel/ESP.
func FindESP(root string, running bootslot.Slot) (string, error) {
	devs, err := bootinit.ScanBlockDevices(filepath.Join(root, "sys"), "")
	if err != nil {
		if _, lerr := os.Stat(filepath.Join(root, espPartLabelLink)); lerr == nil {
			return espPartLabelLink, nil
		}
		return "", fmt.Errorf("find the ESP: %w", err)
	}
	return pickESP(devs, running)
}

// pickESP is FindESP's choice among devs.
func pickESP(devs []bootinit.BlockDevice, running bootslot.Slot) (string, error) {
	cur, err := bootinit.Find(bootinit.Spec{Key: "PARTLABEL", Value: running.PartLabel}, devs)
	if err != nil {
		return "", fmt.Errorf("find the ESP: the running slot %s's partition: %w", running.Name, err)
	}
	var found []string
	for _, d := range devs {
		if d.PartName == bootparam.LabelESP && d.Disk != "" && d.Disk == cur.Disk {
			found = append(found, d.Name)
		}
	}
	switch {
	case len(found) != 1:
		return "", fmt.Errorf("find the ESP: %d partitions labelled %s on %s, the disk of the running slot %s (%s), want one", len(found), bootparam.LabelESP, cur.Disk, running.Name, cur.Name)
	case !kernelName.MatchString(found[0]):
		return "", fmt.Errorf("find the ESP: kernel name %q", found[0])
	}
	return "/dev/" + found[0], nil
}

// mountDevice returns the vfat filesystem on the block device dev
// mounted: at a read-write mount mountinfo lists, or mounted at target.
func mountDevice(dev, mountinfo, target string) (*ESP, func() error, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return nil, nil, fmt.Errorf("ESP %s: %w", dev, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil, nil, fmt.Errorf("ESP %s: not a block device", dev)
	}
	at, err := mountedAt(mountinfo, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if err != nil {
		return nil, nil, err
	}
	if at != "" {
		return &ESP{Dir: at}, func() error { return nil }, nil
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return nil, nil, fmt.Errorf("mount the ESP: %w", err)
	}
	// Root only: the ESP holds the boot chain.
	if err := unix.Mount(dev, target, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "umask=0077"); err != nil {
		return nil, nil, fmt.Errorf("mount the ESP %s (vfat) at %s: %w", dev, target, err)
	}
	unmount := func() error {
		if err := unix.Unmount(target, 0); err != nil {
			return fmt.Errorf("unmount the ESP at %s: %w", target, err)
		}
		return nil
	}
	return &ESP{Dir: target}, unmount, nil
}

// mountedAt returns where mountinfo (proc(5)) lists a read-write vfat
// mount of the device major:minor, "" when there is none.
func mountedAt(mountinfo string, major, minor uint32) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", fmt.Errorf("find the ESP's mounts: %w", err)
	}
	defer f.Close()
	want := fmt.Sprintf("%d:%d", major, minor)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		// ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
		line := sc.Text()
		fields := strings.Fields(line)
		_, after, ok := strings.Cut(line, " - ")
		tail := strings.Fields(after)
		if !ok || len(fields) < 6 || len(tail) < 1 || fields[2] != want || fields[3] != "/" || tail[0] != "vfat" {
			continue
		}
		if opts := strings.Split(fields[5], ","); opts[0] == "rw" {
			return mountinfoUnescape.Replace(fields[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", mountinfo, err)
	}
	return "", nil
}

// mountinfoUnescape undoes the octal escapes the kernel writes in a
// mount point (fs/proc_namespace.c show_mountinfo: mangle(" \t\n\\")).
var mountinfoUnescape = strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
