package upgrade

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// testNode is a node's root for Apply: its OS image's release and public
// key, regular files standing in for the slots' partitions, an ESP in a
// directory, booted from slot a.
type testNode struct {
	t       *testing.T
	root    string
	key     ed25519.PrivateKey
	running upgradebundle.Release
	// parts are the slots' partitions (regular files), partSize long.
	parts    map[bootslot.Slot]string
	partSize int64
	esp      *ESP
	// espFree, when set, is what the ESP says it has free (fullESP).
	espFree int64
	cmdline string
	out     bytes.Buffer
}

// testCluster is the K3s CA hash of the fixture's cluster.
var testCluster = hex.EncodeToString(make([]byte, 32))

func newTestNode(t *testing.T) *testNode {
	t.Helper()
	key, err := upgradebundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{
		t: t, root: t.TempDir(), key: key, partSize: 8 << 20,
		running: upgradebundle.Release{
			Site: "lab", SiteID: upgradebundle.SiteID("seed"), Cluster: testCluster,
			Version: "1.0.0", K3sVersion: "v1.36.2+k3s1", KernelVersion: "6.1.0-1-amd64",
		},
		parts: map[bootslot.Slot]string{},
	}
	n.writeImageFiles(key)
	dir := t.TempDir()
	for _, s := range bootslot.Slots() {
		n.parts[s] = filepath.Join(dir, s.PartLabel)
		if err := os.WriteFile(n.parts[s], bytes.Repeat([]byte(s.Name), int(n.partSize)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.esp = &ESP{Dir: t.TempDir()}
	installSlot(t, n.esp, bootslot.A, n.running, 1, bootslot.Blessed(bootslot.A))
	n.cmdline = "BOOT_IMAGE=/appliance/a/vmlinuz appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a\n"
	return n
}

// withOldSlotB gives slot b an older release, blessed, as an earlier
// upgrade leaves it, and slot a (running) the newer generation.
func (n *testNode) withOldSlotB() {
	n.t.Helper()
	installSlot(n.t, n.esp, bootslot.B, upgradebundle.Release{Site: "lab", Version: "0.9.0", KernelVersion: "6.1.0-1-amd64"}, 1, bootslot.Blessed(bootslot.B))
	installSlot(n.t, n.esp, bootslot.A, n.running, 2, bootslot.Blessed(bootslot.A))
}

// writeImageFiles writes the OS image's release.json and the public key
// of key.
func (n *testNode) writeImageFiles(key ed25519.PrivateKey) {
	n.t.Helper()
	release, err := upgradebundle.MarshalRelease(n.running)
	if err != nil {
		n.t.Fatal(err)
	}
	pub, err := upgradebundle.MarshalPublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		n.t.Fatal(err)
	}
	for path, data := range map[string][]byte{upgradebundle.ReleasePath: release, upgradebundle.PublicKeyPath: pub} {
		writeUnder(n.t, n.root, path, data)
	}
}

func writeUnder(t *testing.T, root, path string, data []byte) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// options are Apply's options for the bundle at loc on this node.
func (n *testNode) options(loc string) Options {
	return Options{
		Bundle:  loc,
		Root:    n.root,
		Out:     &n.out,
		HTTP:    noWait(),
		Cmdline: n.cmdline,
		ESP:     n.espWriter(),
		OpenPartition: func(running, target bootslot.Slot) (*SlotPartition, error) {
			return n.openPartition(running, target)
		},
		Now: func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) },
	}
}

// espWriter is the node's ESP, or a fullESP double of it.
func (n *testNode) espWriter() ESPWriter {
	if n.espFree > 0 {
		return fullESP{ESP: n.esp, free: n.espFree}
	}
	return n.esp
}

// openPartition is a test double of OpenSlotPartition: it opens the
// regular file standing in for target's partition, and refuses the
// running slot's, as the kernel's O_EXCL refuses a mounted partition.
func (n *testNode) openPartition(running, target bootslot.Slot) (*SlotPartition, error) {
	if target == running {
		n.t.Fatalf("asked to open the running slot %s's partition", running.Name)
	}
	f, err := os.OpenFile(n.parts[target], os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &SlotPartition{File: f, Path: "/dev/vda" + map[string]string{"a": "2", "b": "3"}[target.Name], Size: n.partSize}, nil
}

// boots is the slot systemd-boot would boot from the node's ESP.
func (n *testNode) boots() string { return chosenSlot(n.t, n.esp) }

// testBundle is a bundle directory and what it holds.
type testBundle struct {
	dir   string
	m     upgradebundle.Manifest
	files map[string][]byte
}

// newBundle writes a bundle of release version (the node's site and
// cluster) signed with the node's key; change adjusts the manifest first.
func (n *testNode) newBundle(version string, change func(*upgradebundle.Manifest)) *testBundle {
	n.t.Helper()
	b := &testBundle{dir: filepath.Join(n.t.TempDir(), "lab-upgrade"), files: map[string][]byte{}}
	r := n.running
	r.Version, r.KernelVersion = version, "6.1.0-2-amd64"
	b.m = upgradebundle.Manifest{Format: upgradebundle.Format, Release: r, Cmdline: []string{"console=ttyS0"}}
	for _, f := range []struct {
		name string
		dst  *upgradebundle.File
		size int
	}{{upgradebundle.OSImageFile, &b.m.OSImage, 5 << 20}, {upgradebundle.KernelFile, &b.m.Kernel, 300 << 10}, {upgradebundle.InitrdFile, &b.m.Initrd, 700 << 10}} {
		data := append([]byte(version+" "+f.name+" "), testContent(f.size)...)
		b.files[f.name] = data
		*f.dst = fileOf(f.name, data)
	}
	if change != nil {
		change(&b.m)
	}
	b.write(n.t, n.key)
	return b
}

// write writes the bundle's files, manifest and signature by key.
func (b *testBundle) write(t *testing.T, key ed25519.PrivateKey) {
	t.Helper()
	manifest, sig, err := upgradebundle.Encode(b.m, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{upgradebundle.ManifestFile: manifest, upgradebundle.SignatureFile: sig}
	for name, data := range b.files {
		files[name] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(b.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
