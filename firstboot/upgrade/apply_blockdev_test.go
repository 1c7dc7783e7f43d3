package upgrade

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// TestApplyToBlockDevice applies a bundle with Apply's own partition
// lookup (OpenSlotPartition): /sys/class/block under the node's root
// names two loop devices, standing in for the disk's OS-A and OS-B
// partitions, and the OS image goes to OS-B's through the block device.
// (The ESP is a directory: this machine's kernel has no vfat to mount
// one; MountESP is the VM test's to exercise.)
func TestApplyToBlockDevice(t *testing.T) {
	n := newTestNode(t)
	dir := t.TempDir()
	for _, s := range bootslot.Slots() {
		img := filepath.Join(dir, s.PartLabel+".img")
		if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		dev := loopDevice(t, img)
		name := filepath.Base(dev)
		sysPartition(t, n.root, "vda", name, s.PartLabel, 8<<20)
		if err := os.MkdirAll(filepath.Join(n.root, "dev"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dev, filepath.Join(n.root, "dev", name)); err != nil {
			t.Fatal(err)
		}
		n.parts[s] = img
	}
	b := n.newBundle("2.0.0", nil)
	opts := n.options(b.dir)
	opts.OpenPartition = nil
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, n.out.String())
	}
	got, err := os.ReadFile(n.parts[bootslot.B])
	img := b.files[upgradebundle.OSImageFile]
	if err != nil || !bytes.Equal(got[:len(img)], img) {
		t.Errorf("OS-B's backing file does not hold the image (%v)", err)
	}
	if a, err := os.ReadFile(n.parts[bootslot.A]); err != nil || !bytes.Equal(a, make([]byte, 8<<20)) {
		t.Errorf("OS-A changed (%v)", err)
	}
	if got := n.boots(); got != "b" {
		t.Errorf("systemd-boot would boot slot %s, want b", got)
	}
}
