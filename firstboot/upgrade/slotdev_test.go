package upgrade

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

func TestBootedSlot(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    string // slot name, or the error's start
	}{
		{"appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a quiet", "a"},
		{"BOOT_IMAGE=x appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b\n", "b"},
		{"appliance.os=url:os.squashfs appliance.os.base=http://10.0.0.1/pxe/boot.ipxe appliance.os.sha256=" + strings.Repeat("a", 64),
			"this node boots from the network; it upgrades by rebooting into what its boot server serves"},
		{"appliance.os=ISO=APPLIANCE:/appliance/os.squashfs", "this node boots live from the ISO"},
		{"appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE", "this node booted with no appliance.slot= on its kernel command line: its image predates A/B upgrades"},
		{"appliance.os=PARTLABEL=OS-A appliance.slot=c", `kernel command line appliance.slot=: slot "c"`},
		{"appliance.os=PARTLABEL=OS-B appliance.slot=a", "the kernel command line says appliance.slot=a but appliance.os=PARTLABEL=OS-B"},
		{"root=/dev/sda1 quiet", "this node's kernel command line is not one the appliance's loader writes"},
	} {
		s, err := BootedSlot(tc.cmdline)
		got := s.Name
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("BootedSlot(%q) = %q, want %q", tc.cmdline, got, tc.want)
		}
	}
}

func TestBootMedium(t *testing.T) {
	for cmdline, want := range map[string]string{
		"appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b":                MediumDisk,
		"appliance.os=url:http://10.0.0.1/os.squashfs appliance.os.sha256=" + strings.Repeat("0", 64): MediumNetboot,
		"appliance.os=ISO=APPLIANCE:/appliance/os.squashfs appliance.state=tmpfs":                     MediumLive,
	} {
		if got, err := BootMedium(cmdline); err != nil || got != want {
			t.Errorf("BootMedium(%q) = %q, %v; want %q", cmdline, got, err, want)
		}
	}
	if _, err := BootMedium("root=/dev/sda1"); err == nil {
		t.Errorf("BootMedium of a foreign command line: no error")
	}
	root := t.TempDir()
	writeUnder(t, root, "proc/cmdline", []byte("appliance.os=PARTLABEL=OS-A appliance.slot=a\n"))
	if got, err := ReadBootMedium(root); err != nil || got != MediumDisk {
		t.Errorf("ReadBootMedium = %q, %v; want %q", got, err, MediumDisk)
	}
}

// sysPartition adds the partition name of disk, labelled label, to a
// /sys/class/block under root the way the kernel lays it out (the class
// entry links to the partition under its disk).
func sysPartition(t *testing.T, root, disk, name, label string, size int64) {
	t.Helper()
	dir := filepath.Join(root, "sys/devices/virtual/block", disk, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	uevent := fmt.Sprintf("DEVNAME=%s\nDEVTYPE=partition\nPARTN=3\nPARTNAME=%s\n", name, label)
	if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "size"), []byte(fmt.Sprint(size/512)), 0o644); err != nil {
		t.Fatal(err)
	}
	class := filepath.Join(root, "sys/class/block")
	if err := os.MkdirAll(class, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(class, name)); err != nil {
		t.Fatal(err)
	}
}

// loopDevice attaches file to a loop device, as a slot's partition is a
// block device; skips where that cannot be done (not root, no losetup).
func loopDevice(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", file).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device (needs root and losetup): %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	return dev
}

func TestOpenSlotPartitionRefuses(t *testing.T) {
	root := t.TempDir()
	sysPartition(t, root, "vda", "vda2", "OS-A", 1<<30)
	sysPartition(t, root, "vda", "vda3", "OS-B", 1<<30)
	sysPartition(t, root, "vdb", "vdb2", "OS-A", 1<<30)
	if _, err := OpenSlotPartition(root, bootslot.A, bootslot.B); err == nil || !strings.Contains(err.Error(), "2 devices match PARTLABEL=OS-A") {
		t.Errorf("two OS-A: %v", err)
	}

	root = t.TempDir()
	sysPartition(t, root, "vda", "vda2", "OS-A", 1<<30)
	sysPartition(t, root, "vdb", "vdb3", "OS-B", 1<<30)
	if _, err := OpenSlotPartition(root, bootslot.A, bootslot.B); err == nil || !strings.Contains(err.Error(), "slot b's partition vdb3 is not on vda, the disk of the running slot a (vda2)") {
		t.Errorf("other disk: %v", err)
	}

	root = t.TempDir()
	sysPartition(t, root, "vda", "vda2", "OS-A", 1<<30)
	sysPartition(t, root, "vda", "vda3", "OS-B", 1<<30)
	if _, err := OpenSlotPartition(root, bootslot.A, bootslot.B); err == nil || !strings.Contains(err.Error(), "open slot b's partition /dev/vda3: no such file or directory") {
		t.Errorf("no device node: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dev/vda3"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSlotPartition(root, bootslot.A, bootslot.B); err == nil || !strings.Contains(err.Error(), "/dev/vda3: a regular file, not a block device") {
		t.Errorf("regular file: %v", err)
	}
}

// TestOpenSlotPartition finds and writes a real block device (a loop
// device), and refuses it while it is held open exclusively, as the
// kernel refuses a mounted partition.
func TestOpenSlotPartition(t *testing.T) {
	img := filepath.Join(t.TempDir(), "os-b.img")
	if err := os.WriteFile(img, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := loopDevice(t, img)
	root := t.TempDir()
	name := filepath.Base(dev)
	sysPartition(t, root, "vda", "vda2", "OS-A", 1<<30)
	sysPartition(t, root, "vda", name, "OS-B", 4<<20)
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dev, filepath.Join(root, "dev", name)); err != nil {
		t.Fatal(err)
	}
	p, err := OpenSlotPartition(root, bootslot.A, bootslot.B)
	if err != nil {
		t.Fatal(err)
	}
	defer p.File.Close()
	if p.Path != "/dev/"+name || p.Size != 4<<20 {
		t.Errorf("partition %s of %d bytes, want /dev/%s of %d", p.Path, p.Size, name, 4<<20)
	}
	if _, err := OpenSlotPartition(root, bootslot.A, bootslot.B); err == nil || !strings.Contains(err.Error(), "device or resource busy") {
		t.Errorf("second open while held: %v", err)
	}
	data := testContent(3 << 20)
	if err := writeSlotImage(p, bootslot.B, bytes.NewReader(data), fileOf(upgradebundle.OSImageFile, data)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(img)
	if err != nil || !bytes.Equal(got[:len(data)], data) {
		t.Errorf("image file after the write: %v", err)
	}
}

// TestWriteSlotImageReadBack: what the partition reads back after the
// write is checked, not what was written.
func TestWriteSlotImageReadBack(t *testing.T) {
	data := testContent(2 << 20)
	f := fileOf(upgradebundle.OSImageFile, data)
	path := filepath.Join(t.TempDir(), "os-b")
	if err := os.WriteFile(path, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	p := &SlotPartition{File: file, Path: path, Size: 4 << 20}
	// The reader flips a byte of the partition once everything is read:
	// after the write's own check, before the read back.
	flip := io.MultiReader(bytes.NewReader(data), readFunc(func([]byte) (int, error) {
		if _, err := file.WriteAt([]byte{^data[1000]}, 1000); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}))
	err = writeSlotImage(p, bootslot.B, flip, f)
	if err == nil || !strings.Contains(err.Error(), "the partition did not keep what was written") {
		t.Errorf("err = %v, want a read-back mismatch", err)
	}
	p.Size = int64(len(data)) - 1
	if err := writeSlotImage(p, bootslot.B, bytes.NewReader(data), f); err == nil || !strings.Contains(err.Error(), "the OS image does not fit slot b: 2097152-byte image, 2097151-byte partition") {
		t.Errorf("too small: %v", err)
	}
}

type readFunc func([]byte) (int, error)

func (r readFunc) Read(p []byte) (int, error) { return r(p) }

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		1400 << 20:    "1.4 GiB",
		1 << 30:       "1.0 GiB",
		152 << 20:     "152 MiB",
		2047 << 10:    "2.0 MiB",
		1000 << 10:    "1000 KiB",
		512:           "512 bytes",
		3<<30 + 1:     "3.0 GiB",
		(1 << 20) - 1: "1024 KiB",
		10 << 20:      "10 MiB",
		3 << 20:       "3.0 MiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
