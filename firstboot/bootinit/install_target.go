package bootinit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Choosing the disk an install writes to, and refusing one that holds data.

// emptyCheckSize is how much of a disk's start (and end, where a backup
// GPT lives) must be zeros for the disk to count as empty. Partition
// tables and the superblocks of common filesystems all lie in it.
const emptyCheckSize = 1 << 20

// notDiskPrefixes name block devices that are never install targets.
var notDiskPrefixes = []string{"loop", "ram", "zram", "sr", "md", "dm-", "nbd", "fd"}

// DiskContent describes what the disk r of size bytes holds, or returns
// "" when its first and last MiB are all zeros: no partition table, no
// filesystem signature.
func DiskContent(r io.ReaderAt, size int64) (string, error) {
	n := min(int64(emptyCheckSize), size)
	head := make([]byte, n)
	if _, err := r.ReadAt(head, 0); err != nil {
		return "", fmt.Errorf("read first %d bytes: %w", n, err)
	}
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil {
		return "", fmt.Errorf("read last %d bytes: %w", n, err)
	}
	if allZero(head) && allZero(tail) {
		return "", nil
	}
	if parts, ok := gptPartitionCount(head); ok {
		return fmt.Sprintf("GPT with %d partitions", parts), nil
	}
	if n >= 512 && head[510] == 0x55 && head[511] == 0xAA {
		return "an MBR partition table or boot sector", nil
	}
	if fstype, label := labelIn(head); fstype != "" {
		return fmt.Sprintf("an %s filesystem labelled %q", fstype, label), nil
	}
	if allZero(head) {
		return "data in its last MiB (a backup GPT?)", nil
	}
	return "data in its first MiB", nil
}

func allZero(b []byte) bool {
	return len(bytes.TrimLeft(b, "\x00")) == 0
}

// gptPartitionCount counts the used entries of a GPT with 512-byte
// sectors in head, the disk's first bytes.
func gptPartitionCount(head []byte) (int, bool) {
	if len(head) < 1024 || string(head[512:520]) != "EFI PART" {
		return 0, false
	}
	hdr := head[512:1024]
	entriesLBA, num, size := int64(le.Uint64(hdr[72:80])), int64(le.Uint32(hdr[80:84])), int64(le.Uint32(hdr[84:88]))
	end := entriesLBA*512 + num*size
	if size < 128 || end > int64(len(head)) {
		return 0, true
	}
	count := 0
	for i := int64(0); i < num; i++ {
		e := head[entriesLBA*512+i*size:]
		if !allZero(e[:16]) {
			count++
		}
	}
	return count, true
}

// labelIn is readLabel on bytes already read.
func labelIn(head []byte) (fstype, label string) {
	if len(head) >= 2048 && le.Uint16(head[1024+56:1024+58]) == 0xEF53 {
		return fsExt4, cString(head[1024+120 : 1024+136])
	}
	if len(head) >= 32768+72 && string(head[32769:32774]) == "CD001" {
		return fsISO9660, strings.TrimRight(string(head[32768+40:32768+72]), " \x00")
	}
	return "", ""
}

// IsInstallCandidate tells whether d may be written by an automatic
// install: a whole, non-removable disk that is not the boot medium.
func IsInstallCandidate(d BlockDevice, sysRoot, bootDisk string) (bool, string) {
	switch {
	case d.Disk != "":
		return false, "a partition"
	case d.Name == bootDisk:
		return false, "the boot medium"
	case d.Size == 0:
		return false, "no medium"
	}
	for _, p := range notDiskPrefixes {
		if strings.HasPrefix(d.Name, p) {
			return false, "not a disk"
		}
	}
	if rm, err := os.ReadFile(filepath.Join(sysRoot, "class/block", d.Name, "removable")); err == nil && strings.TrimSpace(string(rm)) == "1" {
		return false, "removable"
	}
	return true, ""
}

// PickEmptyDisk returns the first candidate disk of devs (sorted by name)
// whose content is "" by DiskContent, opening disks under devRoot.
func PickEmptyDisk(devs []BlockDevice, sysRoot, devRoot, bootDisk string) (BlockDevice, error) {
	var seen []string
	for _, d := range devs {
		ok, why := IsInstallCandidate(d, sysRoot, bootDisk)
		if !ok {
			if d.Disk == "" && !strings.HasPrefix(d.Name, "loop") && !strings.HasPrefix(d.Name, "ram") {
				seen = append(seen, fmt.Sprintf("%s: %s", d.Name, why))
			}
			continue
		}
		content, err := diskContentOf(filepath.Join(devRoot, d.Name), d.Size)
		if err != nil {
			seen = append(seen, fmt.Sprintf("%s: %v", d.Name, err))
			continue
		}
		if content == "" {
			return d, nil
		}
		seen = append(seen, fmt.Sprintf("%s: holds data (%s)", d.Name, content))
	}
	return BlockDevice{}, fmt.Errorf("no empty non-removable disk (%s)", strings.Join(seen, "; "))
}

func diskContentOf(path string, size int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return DiskContent(f, size)
}

// ResolveInstallDevice turns the device of appliance.install into a /dev
// node. The initramfs has no udev, so /dev/disk/by-id links do not exist:
// virtio-<serial> and nvme-<model>_<serial> names are matched against the
// disks' serial numbers in sysfs instead.
func ResolveInstallDevice(dev, sysRoot, devRoot string) (string, error) {
	const byID = "/dev/disk/by-id/"
	name, ok := strings.CutPrefix(dev, byID)
	if !ok {
		return filepath.Join(devRoot, strings.TrimPrefix(dev, "/dev/")), nil
	}
	if real, err := filepath.EvalSymlinks(filepath.Join(devRoot, "disk/by-id", name)); err == nil {
		return real, nil
	}
	entries, err := os.ReadDir(filepath.Join(sysRoot, "class/block"))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dev, err)
	}
	for _, e := range entries {
		for _, id := range diskIDs(filepath.Join(sysRoot, "class/block", e.Name())) {
			if id == name {
				return filepath.Join(devRoot, e.Name()), nil
			}
		}
	}
	return "", fmt.Errorf("resolve %s: no disk has that id (without udev, only virtio-<serial> and nvme-<model>_<serial> are known; use /dev/<name> or %s)", dev, bootparam.InstallAuto)
}

// diskIDs are the by-id names udev would give the disk at dir.
func diskIDs(dir string) []string {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return ""
		}
		return strings.Join(strings.Fields(string(b)), "_")
	}
	var ids []string
	if s := read("serial"); s != "" {
		ids = append(ids, "virtio-"+s)
	}
	if model, serial := read("device/model"), read("device/serial"); model != "" && serial != "" {
		ids = append(ids, "nvme-"+model+"_"+serial)
	}
	return ids
}
