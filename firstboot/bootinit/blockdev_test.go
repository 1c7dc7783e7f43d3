package bootinit

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSys lays out a sysfs and /dev like the kernel's: class/block entries
// are symlinks into devices/, partitions are subdirectories of their disk.
func fakeSys(t *testing.T) (sysRoot, devRoot string) {
	root := t.TempDir()
	sysRoot, devRoot = filepath.Join(root, "sys"), filepath.Join(root, "dev")
	os.MkdirAll(filepath.Join(sysRoot, "class/block"), 0o755)
	os.MkdirAll(devRoot, 0o755)
	add := func(devPath, name, uevent string, sectors int) {
		dir := filepath.Join(sysRoot, "devices", devPath)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644)
		os.WriteFile(filepath.Join(dir, "size"), []byte(strconv.Itoa(sectors)+"\n"), 0o644)
		rel, _ := filepath.Rel(filepath.Join(sysRoot, "class/block"), dir)
		if err := os.Symlink(rel, filepath.Join(sysRoot, "class/block", name)); err != nil {
			t.Fatal(err)
		}
	}
	add("pci0/virtio1/block/vda", "vda", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n", 131072)
	add("pci0/virtio1/block/vda/vda1", "vda1", "MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=OS-A\n", 16384)
	add("pci0/virtio1/block/vda/vda2", "vda2", "MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\nPARTN=2\nPARTNAME=STATE\n", 32768)
	add("virtual/block/loop0", "loop0", "MAJOR=7\nMINOR=0\nDEVNAME=loop0\nDEVTYPE=disk\n", 0)
	// An ext4 superblock on vda2 and an ISO 9660 volume descriptor on vda.
	ext4 := make([]byte, 4096)
	binary.LittleEndian.PutUint16(ext4[1024+56:], 0xEF53)
	copy(ext4[1024+120:], "STATE\x00")
	os.WriteFile(filepath.Join(devRoot, "vda2"), ext4, 0o644)
	iso := make([]byte, 36864)
	copy(iso[32769:], "CD001")
	copy(iso[32768+40:], "APPLIANCE_INSTALL               ")
	os.WriteFile(filepath.Join(devRoot, "vda"), iso, 0o644)
	os.WriteFile(filepath.Join(devRoot, "vda1"), make([]byte, 40000), 0o644)
	return sysRoot, devRoot
}

func TestScanBlockDevices(t *testing.T) {
	sysRoot, devRoot := fakeSys(t)
	got, err := ScanBlockDevices(sysRoot, devRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := []BlockDevice{
		{Name: "loop0"},
		{Name: "vda", Label: "APPLIANCE_INSTALL", FSType: "iso9660", Size: 64 << 20},
		{Name: "vda1", Disk: "vda", PartN: 1, PartName: "OS-A", Size: 8 << 20},
		{Name: "vda2", Disk: "vda", PartN: 2, PartName: "STATE", Label: "STATE", FSType: "ext4", Size: 16 << 20},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScanBlockDevices() =\n%+v\nwant\n%+v", got, want)
	}
	for spec, name := range map[Spec]string{
		{"PARTLABEL", "STATE"}:         "vda2",
		{"LABEL", "STATE"}:             "vda2",
		{"LABEL", "APPLIANCE_INSTALL"}: "vda",
		{"PATH", "/dev/vda1"}:          "vda1",
		{"ISO", "APPLIANCE_INSTALL"}:   "vda",
	} {
		d, err := Find(spec, got)
		if err != nil || d.Name != name {
			t.Errorf("Find(%s) = %s, %v; want %s", spec, d.Name, err, name)
		}
	}
}

func TestFindISOWantsAnISO9660Volume(t *testing.T) {
	sysRoot, devRoot := fakeSys(t)
	devs, err := ScanBlockDevices(sysRoot, devRoot)
	if err != nil {
		t.Fatal(err)
	}
	// vda2's ext4 is labelled STATE: a label, but not an ISO's.
	if d, err := Find(Spec{"ISO", "STATE"}, devs); err == nil {
		t.Errorf("Find(ISO=STATE) = %s, want no match (STATE is ext4)", d)
	}
}

func TestFindPrefersTheWholeDiskOfAHybridISO(t *testing.T) {
	// A hybrid ISO written to a USB stick: the volume descriptor is at the
	// start of the disk, and the first partition starts there too.
	stick := []BlockDevice{
		{Name: "sda", Label: "LAB", FSType: "iso9660", Size: 1 << 30},
		{Name: "sda1", Disk: "sda", PartN: 1, Label: "LAB", FSType: "iso9660", Size: 1 << 30},
		{Name: "sda2", Disk: "sda", PartN: 2, Size: 64 << 20},
	}
	d, err := Find(Spec{"ISO", "LAB"}, stick)
	if err != nil || d.Name != "sda" {
		t.Errorf("Find(ISO=LAB) on a stick = %v, %v; want sda", d, err)
	}
	// The same ISO as a CD and on a stick: two media, not one.
	both := append([]BlockDevice{{Name: "sr0", Label: "LAB", FSType: "iso9660", Size: 1 << 30}}, stick...)
	_, err = Find(Spec{"ISO", "LAB"}, both)
	if err == nil || !strings.HasPrefix(err.Error(), "3 devices match ISO=LAB, want exactly one") {
		t.Errorf("Find(ISO=LAB) on a CD and a stick: %v, want 3 matches", err)
	}
}

func TestFindReportsWhatItFound(t *testing.T) {
	devs := []BlockDevice{
		{Name: "sda", Size: 2 << 30},
		{Name: "sda1", PartName: "OS-A", Size: 1 << 30},
		{Name: "sdb1", PartName: "OS-A", Label: "x", Size: 1 << 30},
	}
	_, err := Find(Spec{"PARTLABEL", "STATE"}, devs)
	want := "no device matches PARTLABEL=STATE\nlooked for: PARTLABEL=STATE\nfound 3 block devices:\n" +
		"  sda 2048 MiB\n  sda1 1024 MiB PARTNAME=OS-A\n  sdb1 1024 MiB PARTNAME=OS-A LABEL=x"
	if err == nil || err.Error() != want {
		t.Errorf("Find() error =\n%v\nwant\n%s", err, want)
	}
	_, err = Find(Spec{"PARTLABEL", "OS-A"}, devs)
	if err == nil || !strings.HasPrefix(err.Error(), "2 devices match PARTLABEL=OS-A, want exactly one\nlooked for: PARTLABEL=OS-A\nfound 3 block devices:") {
		t.Errorf("Find() with two matches: %v", err)
	}
}

func TestWaitFor(t *testing.T) {
	calls := 0
	// scanAppearing is a test double for ScanBlockDevices: the OS partition
	// shows up on the third scan, as a slow USB disk would.
	scanAppearing := func() ([]BlockDevice, error) {
		calls++
		if calls < 3 {
			return []BlockDevice{{Name: "vda"}}, nil
		}
		return []BlockDevice{{Name: "vda"}, {Name: "vda1", PartName: "OS-A"}}, nil
	}
	d, err := WaitFor(context.Background(), Spec{"PARTLABEL", "OS-A"}, scanAppearing, time.Millisecond)
	if err != nil || d.Name != "vda1" || calls != 3 {
		t.Errorf("WaitFor() = %v, %v after %d scans; want vda1 after 3", d, err, calls)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = WaitFor(ctx, Spec{"PARTLABEL", "NOPE"}, scanAppearing, time.Millisecond)
	want := "no device matches PARTLABEL=NOPE\nlooked for: PARTLABEL=NOPE\nfound 2 block devices:\n  vda 0 MiB\n  vda1 0 MiB PARTNAME=OS-A"
	if err == nil || err.Error() != want {
		t.Errorf("WaitFor() timeout error =\n%v\nwant\n%s", err, want)
	}
}
