package pxe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/output"
)

func testInputs(t *testing.T, osContent string) output.Inputs {
	t.Helper()
	src := t.TempDir()
	in := output.Inputs{
		Name: "edge-site", ModTime: time.Unix(1700000000, 0).UTC(), Cmdline: []string{"console=ttyS0,115200"},
		Kernel: filepath.Join(src, "bzImage"), Initramfs: filepath.Join(src, "initramfs"), OSImage: filepath.Join(src, "os.img"),
	}
	for p, c := range map[string]string{in.Kernel: "kernel", in.Initramfs: "initramfs", in.OSImage: osContent} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestBuildBundle(t *testing.T) {
	in := testInputs(t, "hsqs image one")
	out := filepath.Join(t.TempDir(), "out")
	build := func(in output.Inputs) {
		t.Helper()
		dir, err := outdir.Begin(out)
		if err != nil {
			t.Fatal(err)
		}
		arts, err := New().Build(context.Background(), in, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(arts) != 4 || arts[3].Kind != "os-image" || arts[3].SHA256 != sha(mustRead(t, in.OSImage)) {
			t.Errorf("artifacts = %+v", arts)
		}
		if err := dir.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	build(in)
	bundle := filepath.Join(out, DirName)
	digest := sha("hsqs image one")
	if got := mustRead(t, filepath.Join(bundle, "os.squashfs.sha256")); got != digest+"  os.squashfs\n" {
		t.Errorf("os.squashfs.sha256 = %q", got)
	}
	script := mustRead(t, filepath.Join(bundle, "boot.ipxe"))
	wantKernel := "kernel vmlinuz initrd=initrd appliance.os=url:os.squashfs appliance.os.base=${filename} appliance.os.sha256=" +
		digest + " appliance.state=tmpfs console=ttyS0,115200\n"
	if !strings.HasPrefix(script, "#!ipxe\n") || !strings.Contains(script, wantKernel) || !strings.Contains(script, "\ninitrd initrd\nboot\n") {
		t.Errorf("boot.ipxe =\n%s\nwant a line %q", script, wantKernel)
	}
	for name, want := range map[string]string{"vmlinuz": "kernel", "initrd": "initramfs", "os.squashfs": "hsqs image one"} {
		if got := mustRead(t, filepath.Join(bundle, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// Same filesystem: the OS image is a hard link, not a second copy.
	a, _ := os.Stat(in.OSImage)
	b, _ := os.Stat(filepath.Join(bundle, "os.squashfs"))
	if a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("os.squashfs is a copy, want a hard link to %s", in.OSImage)
	}

	// A rebuild replaces the previous bundle.
	in2 := testInputs(t, "hsqs image two")
	build(in2)
	if got := mustRead(t, filepath.Join(bundle, "os.squashfs")); got != "hsqs image two" {
		t.Errorf("after rebuild os.squashfs = %q", got)
	}
	if !strings.Contains(mustRead(t, filepath.Join(bundle, "boot.ipxe")), sha("hsqs image two")) {
		t.Errorf("after rebuild boot.ipxe has not the new digest")
	}
}

func TestWriteRefusesExistingDir(t *testing.T) {
	in := testInputs(t, "x")
	dir := t.TempDir()
	if _, err := Write(context.Background(), dir, in); err == nil {
		t.Errorf("Write into an existing directory: no error")
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
