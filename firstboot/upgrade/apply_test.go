package upgrade

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// TestApply: the bundle's OS image lands in slot b's partition, its
// kernel and initramfs on the ESP, slot b's entry is written on trial
// with the next generation, systemd-boot would boot slot b next, and the
// record says what was applied.
func TestApply(t *testing.T) {
	n := newTestNode(t)
	b := n.newBundle("2.0.0", nil)
	opts := n.options(b.dir)
	rebooted := 0
	opts.Reboot = func(context.Context) error { rebooted++; return nil }
	applied, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, n.out.String())
	}
	part, err := os.ReadFile(n.parts[bootslot.B])
	if err != nil {
		t.Fatal(err)
	}
	img := b.files[upgradebundle.OSImageFile]
	if !bytes.Equal(part[:len(img)], img) {
		t.Errorf("slot b's partition does not start with the OS image")
	}
	if a, _ := os.ReadFile(n.parts[bootslot.A]); !bytes.Equal(a, bytes.Repeat([]byte("a"), int(n.partSize))) {
		t.Errorf("slot a's partition changed")
	}
	for path, name := range map[string]string{bootslot.B.KernelPath(): upgradebundle.KernelFile, bootslot.B.InitrdPath(): upgradebundle.InitrdFile} {
		if got, err := os.ReadFile(espPath(n.esp, path)); err != nil || !bytes.Equal(got, b.files[name]) {
			t.Errorf("ESP %s: %v", path, err)
		}
	}
	entry, err := os.ReadFile(espPath(n.esp, bootslot.EntriesDir+"/appliance-b+3.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"title lab 2.0.0 (slot b, kernel 6.1.0-2-amd64)\n", "sort-key appliance\n", "version 2\n",
		"linux /appliance/b/vmlinuz\n", "initrd /appliance/b/initrd.img\n",
		"options appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b console=ttyS0\n",
	} {
		if !strings.Contains(string(entry), line) {
			t.Errorf("entry lacks %q:\n%s", line, entry)
		}
	}
	if got := n.boots(); got != "b" {
		t.Errorf("systemd-boot would boot slot %s, want b", got)
	}
	want := Applied{
		Slot: "b", Release: b.m.Release, Generation: 2, Entry: "appliance-b+3.conf",
		PreviousSlot: "a", PreviousRelease: n.running, Source: b.dir, Time: opts.Now(),
	}
	recorded, err := ReadApplied(n.root)
	if err != nil || recorded != want || applied != want {
		t.Errorf("record %+v (%v), returned %+v; want %+v", recorded, err, applied, want)
	}
	if rebooted != 1 {
		t.Errorf("rebooted %d times, want 1", rebooted)
	}
	for _, line := range []string{
		"firstboot: upgrade: bundle " + b.dir + ": lab 2.0.0 (kernel 6.1.0-2-amd64), signed with this site's key; this node runs 1.0.0\n",
		"firstboot: upgrade: slot b is /dev/vda3 (8.0 MiB), the image 5.0 MiB; the ESP has ",
		"firstboot: upgrade: writing slot b (2.0.0, 5.0 MiB) ...\n",
		"firstboot: upgrade: slot b written and read back, sha256 verified",
		"firstboot: upgrade: loader entry appliance-b+3.conf written: the next boot tries slot b (2.0.0) up to 3 times, then falls back to slot a (1.0.0)\n",
		"firstboot: upgrade: rebooting into slot b (2.0.0)\n",
	} {
		if !strings.Contains(n.out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, n.out.String())
		}
	}
}

// TestApplyRefuses: every refusal is one line naming what and why, and
// leaves the node booting what it booted before (slot a, which it runs,
// but for the case where slot a was rejected already).
func TestApplyRefuses(t *testing.T) {
	otherKey, err := upgradebundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// setup changes the node or the bundle; it returns Apply's
		// bundle location ("": the bundle's directory).
		setup func(n *testNode, b *testBundle) string
		want  string
		// written: the refusal comes after slot b's entry was removed.
		written bool
	}{
		{"wrong key", func(n *testNode, b *testBundle) string { b.write(t, otherKey); return "" },
			"upgrade not applied: bundle DIR: bundle manifest: its signature does not verify with this node's key", false},
		{"other site", func(n *testNode, b *testBundle) string {
			b.m.Release.Site, b.m.Release.SiteID = "other", upgradebundle.SiteID("other seed")
			b.write(t, n.key)
			return ""
		}, "upgrade not applied: the bundle is for site other (ID", false},
		{"other cluster", func(n *testNode, b *testBundle) string {
			b.m.Release.Cluster = strings.Repeat("1", 64)
			b.write(t, n.key)
			return ""
		}, "upgrade not applied: the bundle is for another cluster", false},
		{"older", func(n *testNode, b *testBundle) string {
			b.m.Release.Version = "0.9.0"
			b.write(t, n.key)
			return ""
		}, "upgrade not applied: the bundle's release 0.9.0 is older than the running 1.0.0: pass --allow-downgrade to go back", false},
		{"image larger than the partition", func(n *testNode, b *testBundle) string { n.partSize = 4 << 20; return "" },
			"upgrade not applied, slot a (1.0.0) still boots: the OS image does not fit slot b: 5.0 MiB image, 4.0 MiB partition (/dev/vda3)", false},
		{"truncated os.squashfs", func(n *testNode, b *testBundle) string {
			truncate(t, filepath.Join(b.dir, upgradebundle.OSImageFile), b.m.OSImage.Size-1)
			return ""
		}, "upgrade not applied, slot a (1.0.0) still boots: os.squashfs is 5242897 bytes, the manifest says 5242898: truncated or changed bundle", true},
		{"corrupted byte", func(n *testNode, b *testBundle) string {
			flipByte(t, filepath.Join(b.dir, upgradebundle.OSImageFile), 4<<20)
			return ""
		}, "upgrade not applied, slot a (1.0.0) still boots: write slot b (/dev/vda3): os.squashfs has sha256", true},
		{"bad kernel sha", func(n *testNode, b *testBundle) string {
			flipByte(t, filepath.Join(b.dir, upgradebundle.KernelFile), 10)
			return ""
		}, "upgrade not applied, slot a (1.0.0) still boots: write ", true},
		{"ESP full", func(n *testNode, b *testBundle) string { n.espFree = 900 << 10; return "" },
			"upgrade not applied, slot a (1.0.0) still boots: no room on the ESP for slot b's kernel and initramfs: 900 KiB free (with slot b's old files removed), 1000 KiB needed", false},
		{"no release.json", func(n *testNode, b *testBundle) string {
			os.Remove(filepath.Join(n.root, upgradebundle.ReleasePath))
			return ""
		}, "upgrade not applied: this node's OS image has no /usr/lib/appliance/release.json: it predates upgrades", false},
		{"netbooted", func(n *testNode, b *testBundle) string {
			n.cmdline = "appliance.os=url:os.squashfs appliance.os.base=http://10.0.0.1/pxe/boot.ipxe appliance.os.sha256=" + strings.Repeat("a", 64)
			return ""
		}, "upgrade not applied: this node boots from the network; it upgrades by rebooting into what its boot server serves", false},
		{"running slot on trial", func(n *testNode, b *testBundle) string {
			os.Remove(espPath(n.esp, bootslot.EntriesDir+"/appliance-a.conf"))
			installSlot(t, n.esp, bootslot.A, n.running, 2, bootslot.EntryName{Slot: bootslot.A, Counting: true, Left: 2, Done: 1})
			return ""
		}, "upgrade not applied, slot a (1.0.0) still boots: slot a runs on trial (appliance-a+2-1.conf): wait until its boot check blesses it", false},
		{"running slot rejected", func(n *testNode, b *testBundle) string {
			os.Remove(espPath(n.esp, bootslot.EntriesDir+"/appliance-a.conf"))
			installSlot(t, n.esp, bootslot.A, n.running, 2, bootslot.EntryName{Slot: bootslot.A, Counting: true, Left: 0, Done: 3})
			return ""
		}, "upgrade not applied, slot a (1.0.0) still boots: slot a, which runs, was rejected (appliance-a+0-3.conf): reboot into slot b before applying an upgrade", false},
		{"no bundle", func(n *testNode, b *testBundle) string { return filepath.Join(b.dir, "missing") },
			"upgrade not applied: bundle directory DIR/missing: no such file or directory", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t)
			// A refusal before the write keeps slot b's older release.
			n.withOldSlotB()
			b := n.newBundle("2.0.0", nil)
			loc := tc.setup(n, b)
			if loc == "" {
				loc = b.dir
			}
			before := n.boots()
			_, err := Apply(context.Background(), n.options(loc))
			want := strings.ReplaceAll(tc.want, "DIR", b.dir)
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v\nwant one line starting %q", err, want)
			}
			if got := n.boots(); got != before {
				t.Errorf("systemd-boot would boot slot %s, before the apply slot %s", got, before)
			}
			if _, err := os.Stat(espPath(n.esp, bootslot.EntriesDir+"/appliance-b.conf")); (err == nil) == tc.written {
				t.Errorf("slot b's old entry: %v; want it removed only once writing began (%v)", err, tc.written)
			}
			if _, err := ReadApplied(n.root); err == nil {
				t.Errorf("a refusal left a record")
			}
		})
	}
}

// TestApplyDowngrade: --allow-downgrade accepts an older release.
func TestApplyDowngrade(t *testing.T) {
	n := newTestNode(t)
	b := n.newBundle("0.9.0", nil)
	opts := n.options(b.dir)
	opts.AllowDowngrade = true
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := n.boots(); got != "b" {
		t.Errorf("systemd-boot would boot slot %s, want b", got)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// errPowerCut stands for the power going off.
var errPowerCut = errors.New("power cut")
