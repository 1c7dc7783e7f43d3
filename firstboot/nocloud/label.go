package nocloud

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Filesystem types a seed can have, as mount(2) names them.
const (
	FSVFAT    = "vfat"
	FSISO9660 = "iso9660"
)

// Labels that mark a NoCloud seed, as cloud-init accepts them.
var seedLabels = []string{"CIDATA", "cidata"}

// ErrNoSeed means no block device carries a NoCloud label.
var ErrNoSeed = errors.New("no block device labelled CIDATA or cidata")

// errNoLabel means a device has no filesystem this package can label.
var errNoLabel = errors.New("no vfat or iso9660 filesystem")

// Device is a block device that carries a NoCloud seed.
type Device struct {
	// Name is the kernel name (vdb, sr0).
	Name string
	// Path is the device node in the booted system (/dev/vdb), without the root prefix.
	Path   string
	FSType string
	Label  string
}

// FindDevice looks at every block device listed in root/sys/class/block, in
// name order, reads its label from the superblock of root/dev/<name> and
// returns the first labelled CIDATA or cidata. Devices that cannot be read
// (an empty CD drive, an unbacked loop device) are passed over. It returns
// ErrNoSeed when no device matches.
func FindDevice(root string) (Device, error) {
	sysBlock := filepath.Join(root, "sys/class/block")
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Device{}, ErrNoSeed
		}
		return Device{}, fmt.Errorf("list block devices %s: %w", sysBlock, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		if size, err := os.ReadFile(filepath.Join(sysBlock, name, "size")); err == nil && strings.TrimSpace(string(size)) == "0" {
			continue
		}
		devPath := "/dev/" + name
		fstype, label, err := readLabelFile(filepath.Join(root, devPath))
		if err != nil {
			continue
		}
		for _, want := range seedLabels {
			if label == want {
				return Device{Name: name, Path: devPath, FSType: fstype, Label: label}, nil
			}
		}
	}
	return Device{}, ErrNoSeed
}

func readLabelFile(path string) (fstype, label string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	return ReadLabel(f)
}

// ReadLabel reads the filesystem type and volume label of a vfat or iso9660
// filesystem from its superblock. For vfat it reads the label of the boot
// sector (mkfs.fat -n and fatlabel write it there and in the root directory).
// For iso9660 it reads the volume identifier of the primary volume descriptor.
func ReadLabel(r io.ReaderAt) (fstype, label string, err error) {
	if label, ok := fatLabel(r); ok {
		return FSVFAT, label, nil
	}
	if label, ok := isoLabel(r); ok {
		return FSISO9660, label, nil
	}
	return "", "", errNoLabel
}

// fatLabel decodes a FAT12/16/32 boot sector.
func fatLabel(r io.ReaderAt) (string, bool) {
	var bs [512]byte
	if _, err := r.ReadAt(bs[:], 0); err != nil {
		return "", false
	}
	if bs[510] != 0x55 || bs[511] != 0xAA || (bs[0] != 0xEB && bs[0] != 0xE9) {
		return "", false
	}
	switch binary.LittleEndian.Uint16(bs[11:13]) {
	case 512, 1024, 2048, 4096:
	default:
		return "", false
	}
	spc := bs[13]
	if spc == 0 || spc&(spc-1) != 0 {
		return "", false
	}
	// FAT32 has no 16-bit FAT size; its extended BPB starts at 0x40.
	labelAt, typeAt, sigAt := 0x2B, 0x36, 0x26
	if binary.LittleEndian.Uint16(bs[22:24]) == 0 {
		labelAt, typeAt, sigAt = 0x47, 0x52, 0x42
	}
	if bs[sigAt] != 0x29 || !bytes.HasPrefix(bs[typeAt:typeAt+8], []byte("FAT")) {
		return "", false
	}
	label := strings.TrimRight(string(bs[labelAt:labelAt+11]), " \x00")
	if label == "NO NAME" {
		label = ""
	}
	return label, true
}

// isoLabel decodes the primary volume descriptor at sector 16.
func isoLabel(r io.ReaderAt) (string, bool) {
	var pvd [72]byte
	if _, err := r.ReadAt(pvd[:], 16*2048); err != nil {
		return "", false
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" || pvd[6] != 1 {
		return "", false
	}
	return strings.TrimRight(string(pvd[40:72]), " \x00"), true
}
