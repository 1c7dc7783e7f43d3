package bootinit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// State on a local disk for a live or netbooted node
// (appliance.state=disk:<target>): the init reuses a partition named
// STATE, or partitions an empty disk (any disk with force) with one STATE
// partition spanning it and formats that with the OS image's own
// mkfs.ext4. The GPT is written before the filesystem, and a STATE
// partition without a filesystem is formatted at the next boot, so an
// interruption at any point resumes.

// stateTypeGUID is the STATE partition's type: Linux filesystem data, as
// in the raw disk layout.
const stateTypeGUID = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

// stateFirstLBA aligns the STATE partition to 1 MiB with 512-byte sectors.
const stateFirstLBA = 2048

// stateDiskPartition is the STATE partition's number in the GPT
// WriteStateGPT writes: its only partition. (The raw disk layout's STATE
// has another number, and is found by its label.)
const stateDiskPartition = 1

// StateDiskPlan is what the init does for a state disk.
type StateDiskPlan struct {
	// Partition, when set, is an existing STATE partition to use; Format
	// says it has no filesystem yet (an interrupted earlier boot).
	Partition BlockDevice
	Format    bool
	// Disk, when Partition is unset, is the whole disk (/dev path) to
	// partition; Content is what it held ("" for an empty disk).
	Disk    string
	Content string
}

// PlanStateDisk decides where state goes for target among devs, disks
// being opened under devRoot and described under sysRoot. bootDisk (the
// ISO's disk, "" when netbooted) is never chosen.
func PlanStateDisk(target bootparam.InstallTarget, devs []BlockDevice, sysRoot, devRoot, bootDisk string) (StateDiskPlan, error) {
	var disk string
	if target.Device != bootparam.InstallAuto {
		path, err := ResolveInstallDevice(target.Device, sysRoot, devRoot)
		if err != nil {
			return StateDiskPlan{}, diskMissingError{err}
		}
		disk = filepath.Base(path)
		if disk == bootDisk {
			return StateDiskPlan{}, fmt.Errorf("%s (%s) is the boot medium", target.Device, disk)
		}
	}
	for _, d := range devs {
		if d.Disk == "" || d.Disk == bootDisk || d.PartName != bootparam.LabelState || (disk != "" && d.Disk != disk) {
			continue
		}
		return StateDiskPlan{Partition: d, Format: d.FSType != fsExt4}, nil
	}
	if disk == "" {
		d, err := PickEmptyDisk(devs, sysRoot, devRoot, bootDisk)
		if err != nil {
			return StateDiskPlan{}, err
		}
		return StateDiskPlan{Disk: "/dev/" + d.Name}, nil
	}
	var size int64 = -1
	for _, d := range devs {
		if d.Name == disk {
			size = d.Size
		}
	}
	if size <= 0 {
		return StateDiskPlan{}, diskMissingError{fmt.Errorf("%s: no such disk, or no medium", target.Device)}
	}
	content, err := diskContentOf(filepath.Join(devRoot, disk), size)
	if err != nil {
		return StateDiskPlan{}, fmt.Errorf("%s: %w", target.Device, err)
	}
	if content != "" && !target.Force {
		return StateDiskPlan{}, fmt.Errorf("%s holds data (%s) and no STATE partition; add force to use it for state", target.Device, content)
	}
	return StateDiskPlan{Disk: "/dev/" + disk, Content: content}, nil
}

// diskMissingError says a named disk is not there (yet): worth waiting
// for, unlike a disk that holds data.
type diskMissingError struct{ error }

func (e diskMissingError) Unwrap() error { return e.error }

// WriteStateGPT clears the disk's first and last MiB and writes a GPT with
// one partition named STATE from 1 MiB to the disk's end. The GUIDs are
// random: every node's disk is its own.
func WriteStateGPT(disk *os.File, size, sectorSize int64, random io.Reader) error {
	last := size/sectorSize - 34 // the backup GPT's entries and header
	if last <= stateFirstLBA {
		return fmt.Errorf("disk of %d bytes is too small for a STATE partition", size)
	}
	// The head up to the partition's first MiB too: an old filesystem
	// there would pass for STATE's if the boot stopped before mkfs.
	head := min(stateFirstLBA*sectorSize+emptyCheckSize, size)
	tail := min(int64(emptyCheckSize), size)
	for _, r := range [][2]int64{{0, head}, {size - tail, tail}} {
		if err := zeroRange(disk, r[0], r[1]); err != nil {
			return fmt.Errorf("clear old partition table and signatures: %w", err)
		}
	}
	diskGUID, err := uuid.NewRandomFromReader(random)
	if err != nil {
		return err
	}
	partGUID, err := uuid.NewRandomFromReader(random)
	if err != nil {
		return err
	}
	table := &gpt.Table{
		LogicalSectorSize:  int(sectorSize),
		PhysicalSectorSize: int(sectorSize),
		GUID:               strings.ToUpper(diskGUID.String()),
		ProtectiveMBR:      true,
		Partitions: []*gpt.Partition{{
			Index: stateDiskPartition, Start: stateFirstLBA, End: uint64(last),
			Size: uint64((last - stateFirstLBA + 1) * sectorSize),
			Type: gpt.Type(stateTypeGUID), Name: bootparam.LabelState,
			GUID: strings.ToUpper(partGUID.String()),
		}},
	}
	if err := table.Write(disk, size); err != nil {
		return fmt.Errorf("write GPT: %w", err)
	}
	return disk.Sync()
}

// prepareStateDisk carries out plan on the running system and returns the
// STATE partition, formatted. root is the assembled root filesystem whose
// mkfs.ext4 formats it.
func prepareStateDisk(lg *log.Logger, plan StateDiskPlan, root string) (string, error) {
	if plan.Partition.Name != "" {
		dev := "/dev/" + plan.Partition.Name
		if !plan.Format {
			lg.Printf("state: using %s (STATE partition of /dev/%s)", dev, plan.Partition.Disk)
			return dev, nil
		}
		lg.Printf("state: %s (STATE partition of /dev/%s) has no filesystem yet", dev, plan.Partition.Disk)
		return dev, formatState(lg, root, dev)
	}
	if plan.Content != "" {
		lg.Printf("state: %s holds data (%s); overwriting it (force)", plan.Disk, plan.Content)
	}
	dev, err := partitionStateDisk(plan.Disk)
	if err != nil {
		return "", fmt.Errorf("state disk %s: %w", plan.Disk, err)
	}
	lg.Printf("state: made %s, a STATE partition spanning %s", dev, plan.Disk)
	return dev, formatState(lg, root, dev)
}

// partitionStateDisk writes the STATE GPT to the disk at path, has the
// kernel re-read it and waits for the partition's device node.
func partitionStateDisk(path string) (string, error) {
	// O_EXCL on a block device fails while it is mounted or in use.
	disk, err := os.OpenFile(path, os.O_RDWR|os.O_EXCL, 0)
	if err != nil {
		return "", err
	}
	defer disk.Close()
	size, err := unix.IoctlGetInt(int(disk.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return "", fmt.Errorf("size: %w", err)
	}
	ss, err := unix.IoctlGetInt(int(disk.Fd()), unix.BLKSSZGET)
	if err != nil {
		return "", fmt.Errorf("sector size: %w", err)
	}
	if err := WriteStateGPT(disk, int64(size), int64(ss), rand.Reader); err != nil {
		return "", err
	}
	if err := unix.IoctlSetInt(int(disk.Fd()), unix.BLKRRPART, 0); err != nil {
		return "", fmt.Errorf("re-read partition table: %w", err)
	}
	name := filepath.Base(path)
	ctx, cancel := context.WithTimeout(context.Background(), deviceWait)
	defer cancel()
	for {
		devs, err := ScanBlockDevices("/sys", "")
		if err != nil {
			return "", err
		}
		for _, d := range devs {
			if d.Disk == name && d.PartN == stateDiskPartition {
				return "/dev/" + d.Name, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.New("its new partition did not appear")
		case <-time.After(devicePoll):
		}
	}
}

// mkfsPaths are where the OS image may keep mkfs.ext4 (merged /usr or not).
var mkfsPaths = []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"}

// formatState makes the STATE ext4 on dev with root's mkfs.ext4, run
// chrooted in root with /dev and /proc bound in for the time it runs.
func formatState(lg *log.Logger, root, dev string) error {
	mkfs := ""
	for _, p := range mkfsPaths {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			mkfs = p
			break
		}
	}
	if mkfs == "" {
		return fmt.Errorf("format %s: the OS image has no mkfs.ext4 (%s)", dev, strings.Join(mkfsPaths, ", "))
	}
	var bound []string
	defer func() {
		for i := len(bound) - 1; i >= 0; i-- {
			if err := unix.Unmount(bound[i], unix.MNT_DETACH); err != nil {
				lg.Printf("state: unmount %s: %v", bound[i], err)
			}
		}
	}()
	for _, dir := range []string{"/dev", "/proc"} {
		target := filepath.Join(root, dir)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(dir, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("format %s: bind %s into the root: %w", dev, dir, err)
		}
		bound = append(bound, target)
	}
	start := time.Now()
	cmd := exec.Command(mkfs, "-q", "-F", "-L", bootparam.LabelState, dev)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("format %s: %s: %w: %s", dev, mkfs, err, strings.TrimSpace(string(out)))
	}
	lg.Printf("state: formatted %s (ext4, label %s) in %s", dev, bootparam.LabelState, time.Since(start).Round(time.Millisecond))
	return nil
}
