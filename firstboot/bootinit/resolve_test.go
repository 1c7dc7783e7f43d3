package bootinit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveInRootFollowsAbsoluteLinksInsideRoot(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	// Debian bookworm's merged-usr layout.
	mk("usr/sbin")
	mk("usr/lib/systemd")
	link("usr/sbin", "sbin")
	link("usr/lib", "lib")
	link("/lib/systemd/systemd", "usr/sbin/init")
	if err := os.WriteFile(filepath.Join(root, "usr/lib/systemd/systemd"), []byte("elf"), 0o755); err != nil {
		t.Fatal(err)
	}
	link("../../../../../etc/escape", "usr/lib/up")
	link("loop", "loop")

	got, err := resolveInRoot(root, "/sbin/init")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "usr/lib/systemd/systemd"); got != want {
		t.Errorf("resolved to %s, want %s", got, want)
	}
	// ".." cannot climb out of the root: /lib/up lands on the root's /etc/escape.
	mk("etc")
	if err := os.WriteFile(filepath.Join(root, "etc/escape"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := resolveInRoot(root, "/lib/up"); err != nil || got != filepath.Join(root, "etc/escape") {
		t.Errorf("/lib/up resolved to %q, %v; want %s", got, err, filepath.Join(root, "etc/escape"))
	}
	if _, err := resolveInRoot(root, "/loop"); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("symlink loop: %v", err)
	}
	if _, err := resolveInRoot(root, "/sbin/missing"); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
