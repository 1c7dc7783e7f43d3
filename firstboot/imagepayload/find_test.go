package imagepayload

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testpayload"
)

var testImages = []string{"docker.io/library/busybox:1.36", "ghcr.io/example/model-server:v2"}

// place puts a copy of the payload at p under root.
func place(t *testing.T, root, p string, tp testpayload.Payload) {
	t.Helper()
	data, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, p), data, 0o444); err != nil {
		t.Fatal(err)
	}
}

func statePath(d payload.ImagePayload) string {
	return payload.ImagePayloadStateDir + "/" + strings.TrimPrefix(d.Index, "sha256:") + ".tar"
}

const isoPath = bootparam.ISOMount + bootparam.ISOPayloadPath

// loopDevice attaches file to a read-only loop device, as the PAYLOAD
// partition is a block device; skips where that cannot be done (not root).
func loopDevice(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", file).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device for the PAYLOAD partition (needs root and losetup): %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	return dev
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestFindOrder(t *testing.T) {
	tp := testpayload.Write(t, t.TempDir(), testImages...)
	d := tp.Descriptor
	dev := loopDevice(t, tp.Path)

	root := t.TempDir()
	place(t, root, isoPath, tp)
	p, attempts := Find(root, d)
	if p == nil || p.Location.Kind != KindISO || len(attempts) != 2 {
		t.Fatalf("ISO only: found %+v, attempts %v", p, attempts)
	}
	p.Close()
	for _, a := range attempts {
		if !errors.Is(a.Err, fs.ErrNotExist) {
			t.Errorf("ISO only: %s: %v, want not found", a.Location, a.Err)
		}
	}

	// The partition beats the ISO; udev's link is followed.
	symlink(t, dev, filepath.Join(root, PartLabelLink))
	p, attempts = Find(root, d)
	if p == nil || p.Location.Kind != KindPartition || p.Location.String() != KindPartition+" ("+dev+")" || len(attempts) != 1 {
		t.Fatalf("partition and ISO: found %+v, attempts %v", p, attempts)
	}
	if got := p.Layout.Images(); strings.Join(got, " ") != strings.Join(d.Images, " ") {
		t.Errorf("images %v, want %v", got, d.Images)
	}
	p.Close()

	// STATE beats both.
	place(t, root, statePath(d), tp)
	p, attempts = Find(root, d)
	if p == nil || p.Location.Kind != KindState || p.Location.Path != statePath(d) || len(attempts) != 0 {
		t.Fatalf("all three: found %+v, attempts %v", p, attempts)
	}
	p.Close()
}

// TestFindPartitionBySys: before udev made its link, the partition is
// found by its name in /sys/class/block.
func TestFindPartitionBySys(t *testing.T) {
	tp := testpayload.Write(t, t.TempDir(), testImages...)
	dev := loopDevice(t, tp.Path)
	root := t.TempDir()
	name := filepath.Base(dev) + "p9"
	sys := filepath.Join(root, "sys/class/block", name)
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sys, "uevent"), []byte("DEVNAME="+name+"\nDEVTYPE=partition\nPARTN=9\nPARTNAME=PAYLOAD\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, dev, filepath.Join(root, "dev", name))
	p, attempts := Find(root, tp.Descriptor)
	if p == nil || p.Location != (Location{Kind: KindPartition, Path: "/dev/" + name}) {
		t.Fatalf("found %+v, attempts %v", p, attempts)
	}
	p.Close()
}

func TestFindRefuses(t *testing.T) {
	tp := testpayload.Write(t, t.TempDir(), testImages...)
	// Another payload of the same size: only its index differs.
	other := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.37", "ghcr.io/example/model-server:v3")
	if other.Descriptor.Size != tp.Descriptor.Size {
		t.Fatalf("payloads of %d and %d bytes, want the same size", other.Descriptor.Size, tp.Descriptor.Size)
	}
	d := tp.Descriptor
	regular := filepath.Join(t.TempDir(), "regular")
	if err := os.WriteFile(regular, []byte("not a device"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := func(t *testing.T, p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, root string)
		// where is the location refused, want what its error says.
		where, want string
	}{
		{"another payload on the ISO", func(t *testing.T, root string) {
			place(t, root, isoPath, other)
		}, KindISO, "index.json is " + other.Descriptor.Index + ", want " + d.Index},
		{"a truncated payload on STATE", func(t *testing.T, root string) {
			place(t, root, statePath(d), tp)
			if err := os.Truncate(filepath.Join(root, statePath(d)), d.Size-512); err != nil {
				t.Fatal(err)
			}
		}, KindState, "the payload is"},
		{"a FIFO on STATE", func(t *testing.T, root string) {
			fifo(t, filepath.Join(root, statePath(d)))
		}, KindState, "is a named pipe (FIFO), not a regular file"},
		{"a symbolic link on STATE", func(t *testing.T, root string) {
			symlink(t, tp.Path, filepath.Join(root, statePath(d)))
		}, KindState, "is a symbolic link, not a regular file"},
		{"a symbolic link on the ISO", func(t *testing.T, root string) {
			symlink(t, tp.Path, filepath.Join(root, isoPath))
		}, KindISO, "is a symbolic link, not a regular file"},
		{"a FIFO for the partition", func(t *testing.T, root string) {
			fifo(t, filepath.Join(root, PartLabelLink))
		}, KindPartition, "is a named pipe (FIFO), not a block device"},
		{"a regular file for the partition", func(t *testing.T, root string) {
			place(t, root, PartLabelLink, tp)
		}, KindPartition, "is a regular file, not a block device"},
		{"a link to a regular file for the partition", func(t *testing.T, root string) {
			symlink(t, regular, filepath.Join(root, PartLabelLink))
		}, KindPartition, "is a regular file, not a block device"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			c.setup(t, root)
			p, attempts := Find(root, d)
			if p != nil {
				p.Close()
				t.Fatalf("found %s", p.Location)
			}
			if len(attempts) != 3 {
				t.Fatalf("attempts %v, want 3", attempts)
			}
			refused := 0
			for _, a := range attempts {
				if errors.Is(a.Err, fs.ErrNotExist) {
					continue
				}
				refused++
				if a.Location.Kind != c.where || !strings.Contains(a.Err.Error(), c.want) {
					t.Errorf("%s refused: %v; want %s refused with %q", a.Location, a.Err, c.where, c.want)
				}
			}
			if refused != 1 {
				t.Errorf("%d refused, want 1: %v", refused, attempts)
			}
		})
	}
}

func TestReadDescriptor(t *testing.T) {
	tp := testpayload.Write(t, t.TempDir(), testImages...)
	root := t.TempDir()
	if _, err := ReadDescriptor(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no descriptor: %v, want not found", err)
	}
	testpayload.WriteDescriptor(t, root, tp.Descriptor)
	d, err := ReadDescriptor(root)
	if err != nil || d.Index != tp.Descriptor.Index || len(d.Images) != 2 || strings.Join(d.Registries, " ") != "docker.io ghcr.io" {
		t.Fatalf("ReadDescriptor = %+v, %v", d, err)
	}
	for _, c := range []struct {
		name string
		edit func(d *payload.ImagePayload)
		want string
	}{
		{"format", func(d *payload.ImagePayload) { d.Format = 2 }, "format 2, this firstboot reads format 1"},
		{"index", func(d *payload.ImagePayload) { d.Index = "sha256:../../etc" }, `index "sha256:../../etc" is not sha256:<64 hex>`},
		{"size", func(d *payload.ImagePayload) { d.Size = 0 }, "size 0 is not positive"},
		{"registry", func(d *payload.ImagePayload) { d.Registries = []string{"evil.io\n  x"} }, `registry "evil.io\n  x" is not a host[:port]`},
		{"image", func(d *payload.ImagePayload) { d.Images = []string{"busybox"} }, `image "busybox" is not a containerd image name`},
	} {
		bad := tp.Descriptor
		c.edit(&bad)
		testpayload.WriteDescriptor(t, root, bad)
		if _, err := ReadDescriptor(root); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	p := filepath.Join(root, payload.ImagePayloadDescriptor)
	os.Remove(p)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDescriptor(root); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO descriptor: %v", err)
	}
}
