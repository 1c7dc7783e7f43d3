package upgrade

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// maxCmdline bounds /proc/cmdline (the kernel's COMMAND_LINE_SIZE is 2 KiB
// on x86; room to spare).
const maxCmdline = 64 << 10

// readCmdline returns the kernel command line under root.
func readCmdline(root string) (string, error) {
	data, err := smallfile.Read(filepath.Join(root, "proc/cmdline"), maxCmdline)
	if err != nil {
		return "", fmt.Errorf("read kernel command line: %w", err)
	}
	return string(data), nil
}

// What a node booted from (BootMedium); the values are those of package
// upgradecluster's Medium constants.
const (
	// MediumDisk: an A/B slot of a disk, which Apply upgrades.
	MediumDisk = "disk"
	// MediumNetboot: an OS image downloaded from a boot server, which
	// upgrades by rebooting into what that server serves.
	MediumNetboot = "netboot"
	// MediumLive: an ISO (a CD or a USB stick), state in RAM.
	MediumLive = "live"
)

// BootMedium says what the node booted from, by the kernel command line
// the init read (bootinit.ParseConfig): an appliance.os=url:... is a
// netboot, an ISO=<volume>:<path> a live boot, a partition a disk.
func BootMedium(cmdline string) (string, error) {
	cfg, err := bootinit.ParseConfig(cmdline)
	switch {
	case err != nil:
		return "", fmt.Errorf("this node's kernel command line is not one the appliance's loader writes: %w", err)
	case cfg.Netboot != nil:
		return MediumNetboot, nil
	case cfg.OSFile != "":
		return MediumLive, nil
	}
	return MediumDisk, nil
}

// ReadBootMedium is BootMedium of the kernel command line of the node at
// root.
func ReadBootMedium(root string) (string, error) {
	cmdline, err := readCmdline(root)
	if err != nil {
		return "", err
	}
	return BootMedium(cmdline)
}

// BootedSlot returns the slot the node booted from its kernel command
// line, which the appliance's loader entries write (bootslot.Options):
// appliance.slot=<name> with appliance.os=PARTLABEL=<that slot's label>.
// A node booted from the network or live from an ISO has no slot; its
// error says how such a node upgrades.
func BootedSlot(cmdline string) (bootslot.Slot, error) {
	medium, err := BootMedium(cmdline)
	switch {
	case err != nil:
		return bootslot.Slot{}, err
	case medium == MediumNetboot:
		return bootslot.Slot{}, errors.New("this node boots from the network; it upgrades by rebooting into what its boot server serves")
	case medium == MediumLive:
		return bootslot.Slot{}, errors.New("this node boots live from the ISO; it upgrades by booting a new ISO (or by installing one to its disk, which then upgrades in place)")
	}
	name, ok := bootparam.ParseCmdline(cmdline)[bootparam.ArgSlot]
	if !ok {
		return bootslot.Slot{}, fmt.Errorf("this node booted with no %s= on its kernel command line: its image predates A/B upgrades (reflash it once with a newer build)", bootparam.ArgSlot)
	}
	s, err := bootslot.ByName(name)
	if err != nil {
		return bootslot.Slot{}, fmt.Errorf("kernel command line %s=: %w", bootparam.ArgSlot, err)
	}
	osArg := bootparam.ParseCmdline(cmdline)[bootparam.ArgOS]
	if want := "PARTLABEL=" + s.PartLabel; osArg != want {
		return bootslot.Slot{}, fmt.Errorf("the kernel command line says %s=%s but %s=%s: the boot entry is not one the appliance wrote", bootparam.ArgSlot, s.Name, bootparam.ArgOS, osArg)
	}
	return s, nil
}

// SlotPartition is a slot's OS partition, open read-write.
type SlotPartition struct {
	File PartitionFile
	// Path names it in messages (/dev/vda3).
	Path string
	// Size is its length in bytes.
	Size int64
}

// PartitionFile is what writing a slot needs of its open partition (an
// *os.File).
type PartitionFile interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Close() error
}

// kernelName is a block device's kernel name (vda3, nvme0n1p3, sdb3).
var kernelName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// OpenSlotPartition finds the partition of target on the disk whose
// partition of running the node booted from (GPT labels in
// /sys/class/block under root, as the init finds them) and opens it
// read-write and exclusively: the kernel refuses O_EXCL on a block device
// that is mounted or otherwise in use, so the running slot, or a
// partition something holds, is never written.
func OpenSlotPartition(root string, running, target bootslot.Slot) (*SlotPartition, error) {
	devs, err := bootinit.ScanBlockDevices(filepath.Join(root, "sys"), "")
	if err != nil {
		return nil, err
	}
	cur, err := bootinit.Find(bootinit.Spec{Key: "PARTLABEL", Value: running.PartLabel}, devs)
	if err != nil {
		return nil, fmt.Errorf("the running slot %s's partition: %w", running.Name, err)
	}
	dev, err := bootinit.Find(bootinit.Spec{Key: "PARTLABEL", Value: target.PartLabel}, devs)
	switch {
	case err != nil:
		return nil, fmt.Errorf("slot %s's partition: %w", target.Name, err)
	case dev.Disk == "" || dev.Disk != cur.Disk:
		return nil, fmt.Errorf("slot %s's partition %s is not on %s, the disk of the running slot %s (%s)", target.Name, dev.Name, cur.Disk, running.Name, cur.Name)
	case !kernelName.MatchString(dev.Name):
		return nil, fmt.Errorf("slot %s's partition: kernel name %q", target.Name, dev.Name)
	}
	path := "/dev/" + dev.Name
	f, err := os.OpenFile(filepath.Join(root, path), os.O_RDWR|os.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open slot %s's partition %s: %w", target.Name, path, smallfile.Cause(err))
	}
	info, err := f.Stat()
	if err == nil && (info.Mode()&fs.ModeDevice == 0 || info.Mode()&fs.ModeCharDevice != 0) {
		err = fmt.Errorf("%s, not a block device", smallfile.Kind(info.Mode()))
	}
	var size int64
	if err == nil {
		size, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("slot %s's partition %s: %w", target.Name, path, err)
	}
	return &SlotPartition{File: f, Path: path, Size: size}, nil
}
