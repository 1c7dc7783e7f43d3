package bootinit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeDisks lays out sysfs and /dev for whole disks of 8 MiB: name ->
// (removable, serial, first bytes of the disk).
func fakeDisks(t *testing.T, disks map[string]struct {
	removable bool
	serial    string
	head      []byte
}) (sysRoot, devRoot string, devs []BlockDevice) {
	t.Helper()
	root := t.TempDir()
	sysRoot, devRoot = filepath.Join(root, "sys"), filepath.Join(root, "dev")
	os.MkdirAll(filepath.Join(sysRoot, "class/block"), 0o755)
	os.MkdirAll(devRoot, 0o755)
	for name, d := range disks {
		dir := filepath.Join(sysRoot, "class/block", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "uevent"), []byte("DEVNAME="+name+"\nDEVTYPE=disk\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "size"), []byte(strconv.Itoa(8*testMiB/512)), 0o644)
		os.WriteFile(filepath.Join(dir, "removable"), []byte(map[bool]string{true: "1\n", false: "0\n"}[d.removable]), 0o644)
		if d.serial != "" {
			os.WriteFile(filepath.Join(dir, "serial"), []byte(d.serial+"\n"), 0o644)
		}
		img := make([]byte, 8*testMiB)
		copy(img, d.head)
		if err := os.WriteFile(filepath.Join(devRoot, name), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	devs, err := ScanBlockDevices(sysRoot, devRoot)
	if err != nil {
		t.Fatal(err)
	}
	return sysRoot, devRoot, devs
}

type fakeDisk = struct {
	removable bool
	serial    string
	head      []byte
}

func gptHead(parts int) []byte {
	head := make([]byte, 34*512)
	copy(head[512:], "EFI PART")
	le.PutUint64(head[512+72:], 2)
	le.PutUint32(head[512+80:], 128)
	le.PutUint32(head[512+84:], 128)
	for i := range parts {
		head[1024+i*128] = 0xAF
	}
	return head
}

func TestPickEmptyDisk(t *testing.T) {
	iso := make([]byte, 40000)
	copy(iso[32769:], "CD001")
	disks := map[string]fakeDisk{
		"sda": {head: iso},        // the boot medium (a USB stick seen as a disk)
		"sdb": {removable: true},  // empty but removable
		"vda": {head: gptHead(3)}, // holds data
		"vdb": {},                 // empty: the target
		"sr0": {removable: true},
	}
	sysRoot, devRoot, devs := fakeDisks(t, disks)
	got, err := PickEmptyDisk(devs, sysRoot, devRoot, "sda")
	if err != nil || got.Name != "vdb" {
		t.Fatalf("PickEmptyDisk = %v, %v; want vdb", got.Name, err)
	}

	delete(disks, "vdb")
	sysRoot, devRoot, devs = fakeDisks(t, disks)
	_, err = PickEmptyDisk(devs, sysRoot, devRoot, "sda")
	want := "no empty non-removable disk (sda: the boot medium; sdb: removable; sr0: not a disk; vda: holds data (GPT with 3 partitions))"
	if err == nil || err.Error() != want {
		t.Fatalf("PickEmptyDisk without an empty disk: %v\nwant %s", err, want)
	}
}

func TestResolveInstallDevice(t *testing.T) {
	sysRoot, devRoot, _ := fakeDisks(t, map[string]fakeDisk{"vda": {}, "vdb": {serial: "target-1"}})
	for _, c := range []struct{ in, want, err string }{
		{"/dev/vdb", filepath.Join(devRoot, "vdb"), ""},
		{"/dev/disk/by-id/virtio-target-1", filepath.Join(devRoot, "vdb"), ""},
		{"/dev/disk/by-id/ata-none", "", "no disk has that id"},
	} {
		got, err := ResolveInstallDevice(c.in, sysRoot, devRoot)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ResolveInstallDevice(%s) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
}
