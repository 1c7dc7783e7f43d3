package rootfs

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ml-appliance/appliance/internal/testassets"
)

// mergedUsr is a small merged-usr layout like Debian's.
func mergedUsr(t *testing.T) *Tree {
	tree := newTree(t)
	addTar(t, tree, "base",
		tarEntry{Name: "./", Type: tar.TypeDir},
		tarEntry{Name: "lib", Type: tar.TypeSymlink, Link: "usr/lib"},
		tarEntry{Name: "usr/lib/modules/6.1.0-1-amd64/modules.dep", Body: "kernel/virtio.ko:\n"},
		tarEntry{Name: "boot/vmlinuz-6.1.0-1-amd64", Body: "kernel"},
		tarEntry{Name: "etc/alternatives/vi", Type: tar.TypeSymlink, Link: "/usr/bin/vim"},
		tarEntry{Name: "usr/bin/vim", Body: "vim"},
		tarEntry{Name: "usr/bin/up", Type: tar.TypeSymlink, Link: "../../../../boot"},
		tarEntry{Name: "loop1", Type: tar.TypeSymlink, Link: "loop2"},
		tarEntry{Name: "loop2", Type: tar.TypeSymlink, Link: "/loop1"},
	)
	return tree
}

func TestOpenResolvesSymlinks(t *testing.T) {
	tree := mergedUsr(t)
	tests := []struct{ name, body string }{
		{"lib/modules/6.1.0-1-amd64/modules.dep", "kernel/virtio.ko:\n"},
		{"etc/alternatives/vi", "vim"},
		{"usr/bin/up/vmlinuz-6.1.0-1-amd64", "kernel"},
	}
	for _, tt := range tests {
		got, err := fs.ReadFile(tree, tt.name)
		if err != nil || string(got) != tt.body {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", tt.name, got, err, tt.body)
		}
	}
	matches, err := fs.Glob(tree, "lib/modules/*/modules.dep")
	if want := []string{"lib/modules/6.1.0-1-amd64/modules.dep"}; err != nil || !reflect.DeepEqual(matches, want) {
		t.Errorf("Glob = %q, %v; want %q", matches, err, want)
	}
	if target, err := tree.ReadLink("lib"); err != nil || target != "usr/lib" {
		t.Errorf("ReadLink(lib) = %q, %v", target, err)
	}
	if fi, err := tree.Lstat("lib"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat(lib) = %v, %v; want a symlink", fi, err)
	}
	if fi, err := tree.Stat("lib"); err != nil || !fi.IsDir() || fi.Name() != "lib" {
		t.Errorf("Stat(lib) = %v, %v; want the directory it points to", fi, err)
	}
	errTests := []struct {
		name string
		want string
	}{
		{"loop1/x", "open loop1/x: too many levels of symbolic links"},
		{"usr/bin/vim/x", "open usr/bin/vim/x: usr/bin/vim is not a directory"},
		{"lib/missing", "open lib/missing: file does not exist"},
		{"/abs", "open /abs: invalid argument"},
	}
	for _, tt := range errTests {
		_, err := tree.Open(tt.name)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Open(%s) err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := tree.Open("lib/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(lib/missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestTreeIsAValidFS(t *testing.T) {
	tree := newTree(t)
	addTar(t, tree, "base",
		tarEntry{Name: "etc/hostname", Body: "node\n"},
		tarEntry{Name: "etc/empty", Body: ""},
		tarEntry{Name: "usr/share/doc/README", Body: strings.Repeat("r", 3000)},
	)
	if err := tree.AddFile("etc/extra.conf", 0o600, []byte("x=1\n"), FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(tree, "etc/hostname", "etc/empty", "etc/extra.conf", "usr/share/doc/README"); err != nil {
		t.Fatal(err)
	}
}

// TestBaseTarball reads the real default base OS: the seekable path must
// index ~19,000 entries of a 700 MB tarball without copying content, and
// modules.dep must be reachable through the lib -> usr/lib symlink.
func TestBaseTarball(t *testing.T) {
	p := testassets.Path(t, testassets.BaseTar)
	tree := newTree(t)
	start := time.Now()
	if err := tree.AddTarFile(p, "base"); err != nil {
		t.Fatal(err)
	}
	indexed := time.Since(start)
	deps, err := fs.Glob(tree, "lib/modules/*/modules.dep")
	if err != nil || len(deps) != 1 {
		t.Fatalf("modules.dep = %q, %v; want exactly one", deps, err)
	}
	dep, err := fs.ReadFile(tree, deps[0])
	if err != nil || !strings.Contains(string(dep), "virtio") {
		t.Fatalf("read %s: %d bytes, %v; want a modules.dep naming virtio modules", deps[0], len(dep), err)
	}
	kernels, _ := fs.Glob(tree, "boot/vmlinuz-*")
	if len(kernels) != 1 {
		t.Errorf("kernels = %q, want one", kernels)
	}
	start = time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tree.WriteTar(pw, WriteOptions{ModTime: modTime})) }()
	tr := tar.NewReader(pr)
	var n int
	var capability string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if hdr.Name == "usr/bin/ping" {
			capability = hdr.PAXRecords["SCHILY.xattr.security.capability"]
		}
		if hdr.ModTime.After(modTime) {
			t.Fatalf("%s mtime %v after ModTime", hdr.Name, hdr.ModTime)
		}
	}
	st, _ := os.Stat(p)
	t.Logf("%d MB base tar: indexed %d entries in %v, wrote normalised stream in %v",
		st.Size()>>20, tree.Len(), indexed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if n != tree.Len()+1 {
		t.Errorf("stream has %d entries, tree %d plus root", n, tree.Len())
	}
	if capability == "" {
		t.Error("usr/bin/ping lost its security.capability xattr")
	}
}
