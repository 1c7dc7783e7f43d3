package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/rootfs"
)

// treeWithShell returns a tree holding hostBinary at usr/bin/busybox, with
// bin -> usr/bin as in a merged-usr base.
func treeWithShell(t *testing.T, hostBinary string) *rootfs.Tree {
	t.Helper()
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { tree.Close() })
	if err := tree.AddSymlink("bin", "usr/bin", rootfs.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if hostBinary != "" {
		if err := tree.AddFileFrom(rescueShellPath, 0o755, hostBinary, rootfs.FileOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

func TestRescueShellMustBeStatic(t *testing.T) {
	dir := t.TempDir()
	static := filepath.Join(dir, "static")
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := exec.Command("go", "build", "-o", static, src)
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dynamic, err := exec.LookPath("ls") // coreutils' ls is dynamically linked on Debian
	if err != nil {
		t.Fatal(err)
	}

	b := &pipeline{scratch: t.TempDir()}
	got, err := b.rescueShell(treeWithShell(t, static))
	if err != nil {
		t.Fatalf("static binary rejected: %v", err)
	}
	if !sameBytes(t, got, static) {
		t.Errorf("packed shell %s differs from the base's", got)
	}

	_, err = b.rescueShell(treeWithShell(t, dynamic))
	if err == nil || !strings.Contains(err.Error(), "os.initramfs.rescueShell: /usr/bin/busybox: dynamically linked (needs /lib64/ld-linux-x86-64.so.2) (install busybox-static, not busybox, in the base)") {
		t.Errorf("dynamic binary: %v", err)
	}

	_, err = b.rescueShell(treeWithShell(t, ""))
	if err == nil || !strings.HasPrefix(err.Error(), "os.initramfs.rescueShell: the base OS has no /usr/bin/busybox (install busybox-static in the base)") {
		t.Errorf("missing shell: %v", err)
	}
}

func sameBytes(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}
