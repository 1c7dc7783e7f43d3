package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

func TestFindESPOnTheRunningDisk(t *testing.T) {
	root := t.TempDir()
	sysPartition(t, root, "vda", "vda1", "ESP", 256<<20)
	sysPartition(t, root, "vda", "vda2", "OS-A", 1<<30)
	sysPartition(t, root, "vda", "vda3", "OS-B", 1<<30)
	// A USB stick with an ESP of its own.
	sysPartition(t, root, "sdb", "sdb1", "ESP", 64<<20)
	if dev, err := FindESP(root, bootslot.A); err != nil || dev != "/dev/vda1" {
		t.Errorf("FindESP = %q, %v; want /dev/vda1", dev, err)
	}
	if _, err := FindESP(root, bootslot.Slot{Name: "c", PartLabel: "OS-C"}); err == nil || !strings.Contains(err.Error(), "the running slot c's partition: no device matches PARTLABEL=OS-C") {
		t.Errorf("FindESP of a slot with no partition: %v", err)
	}

	root = t.TempDir()
	sysPartition(t, root, "vda", "vda2", "OS-A", 1<<30)
	sysPartition(t, root, "sdb", "sdb1", "ESP", 64<<20)
	if _, err := FindESP(root, bootslot.A); err == nil || !strings.Contains(err.Error(), "0 partitions labelled ESP on vda, the disk of the running slot a (vda2), want one") {
		t.Errorf("FindESP with the ESP on another disk: %v", err)
	}

	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "dev/disk/by-partlabel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := FindESP(root, bootslot.A); err == nil || !strings.Contains(err.Error(), "find the ESP: list block devices") {
		t.Errorf("FindESP without /sys or udev's link: %v", err)
	}
	if err := os.Symlink("../../vda1", filepath.Join(root, espPartLabelLink)); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(root, "dev/vda1"), "")
	if dev, err := FindESP(root, bootslot.A); err != nil || dev != espPartLabelLink {
		t.Errorf("FindESP without /sys = %q, %v; want udev's link", dev, err)
	}
}

func TestMountedAt(t *testing.T) {
	mountinfo := filepath.Join(t.TempDir(), "mountinfo")
	writeTestFile(t, mountinfo, strings.Join([]string{
		"22 1 259:3 / / rw,relatime shared:1 - ext4 /dev/vda4 rw",
		"30 22 259:1 /EFI /efi-sub rw,relatime shared:2 - vfat /dev/vda1 rw",
		"31 22 259:1 / /boot/efi ro,relatime shared:3 - vfat /dev/vda1 ro,fmask=0077",
		`32 22 259:1 / /run/my\040esp rw,nosuid shared:4 - vfat /dev/vda1 rw,fmask=0077`,
		"33 22 259:2 / /mnt rw shared:5 - vfat /dev/vda2 rw",
		"34 22 259:1 / /weird rw shared:6 - ext4 /dev/vda1 rw",
		"",
	}, "\n"))
	for _, c := range []struct {
		minor uint32
		want  string
	}{{1, "/run/my esp"}, {2, "/mnt"}, {3, ""}, {9, ""}} {
		if got, err := mountedAt(mountinfo, 259, c.minor); err != nil || got != c.want {
			t.Errorf("mountedAt(259:%d) = %q, %v; want %q", c.minor, got, err, c.want)
		}
	}
	if _, err := mountedAt(filepath.Join(t.TempDir(), "none"), 1, 1); err == nil {
		t.Errorf("mountedAt of a missing mountinfo: no error")
	}
}

func TestMountDeviceRefusesAFile(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "vda1"), "")
	if _, _, err := mountDevice(filepath.Join(dir, "vda1"), "/proc/self/mountinfo", filepath.Join(dir, "esp")); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Errorf("mountDevice of a regular file: %v", err)
	}
}
