package rootfs

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddDirSymlinks: an overlay's symbolic links stay links in the image;
// with RefuseSymlinks (a tree the builder made, such as the initial
// server's PXE bundle) one is an error naming it, since a link to a build
// host path would dangle in the image.
func TestAddDirSymlinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tftp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tftp", "undionly.kpxe"), []byte("bios"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/boot/ipxe.efi", filepath.Join(dir, "tftp", "ipxe.efi")); err != nil {
		t.Fatal(err)
	}

	overlay := newTree(t)
	if err := overlay.AddDir(dir, "/", DirOptions{Origin: "overlay"}); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, readTar(t, writeTar(t, overlay)), map[string]tarEntry{
		"tftp/ipxe.efi": {Type: tar.TypeSymlink, Link: "/boot/ipxe.efi"}, "tftp/undionly.kpxe": {Type: tar.TypeReg, Body: "bios"},
	})

	err := newTree(t).AddDir(dir, "usr/lib/appliance/pxe", DirOptions{Origin: "pxe-bundle", RefuseSymlinks: true})
	want := filepath.Join(dir, "tftp", "ipxe.efi") + " is a symbolic link (to /boot/ipxe.efi), not the file itself"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("AddDir with RefuseSymlinks: %v, want an error containing %q", err, want)
	}
}
