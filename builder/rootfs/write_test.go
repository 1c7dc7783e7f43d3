package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestWriteTarSortsParentsFirst(t *testing.T) {
	tree := newTree(t)
	addTar(t, tree, "layer",
		tarEntry{Name: "b/x", Body: "x"},
		tarEntry{Name: "a-b", Body: "ab"},
		tarEntry{Name: "./a/y", Body: "y"},
		tarEntry{Name: "a/", Type: tar.TypeDir},
	)
	got := names(readTar(t, writeTar(t, tree)))
	want := []string{"./", "a/", "a/y", "a-b", "b/", "b/x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestLaterLayerOverrides(t *testing.T) {
	tree := newTree(t)
	addTar(t, tree, "base",
		tarEntry{Name: "etc/hostname", Body: "base"},
		tarEntry{Name: "lib/", Type: tar.TypeDir},
		tarEntry{Name: "lib/old.so", Body: "old"},
	)
	addTar(t, tree, "overlay",
		tarEntry{Name: "etc/hostname", Body: "overlay"},
		tarEntry{Name: "lib", Type: tar.TypeSymlink, Link: "usr/lib"},
	)
	out := readTar(t, writeTar(t, tree))
	want := []string{"./", "etc/", "etc/hostname", "lib"}
	if got := names(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("names = %q, want %q (a symlink replacing a directory drops its contents)", got, want)
	}
	if out[2].Body != "overlay" {
		t.Errorf("etc/hostname = %q, want the overlay's", out[2].Body)
	}
	if origin, _ := tree.Origin("/etc/hostname"); origin != "overlay" {
		t.Errorf("origin = %q, want overlay", origin)
	}
}

func TestAddBelowNonDirectoryFails(t *testing.T) {
	tree := newTree(t)
	addTar(t, tree, "base", tarEntry{Name: "lib", Type: tar.TypeSymlink, Link: "usr/lib"})
	err := tree.AddFile("lib/x.conf", 0o644, nil, FileOptions{Origin: "overlay"})
	want := "add lib/x.conf from overlay: parent lib is not a directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		pattern string
		removed int
		left    []string
		err     string
	}{
		{pattern: "usr/share/doc", removed: 3, left: []string{"./", "usr/", "usr/share/", "usr/share/man/", "usr/share/man/ls.1"}},
		{pattern: "/usr/share/*/ls*", removed: 3, left: []string{"./", "usr/", "usr/share/", "usr/share/doc/", "usr/share/man/"}},
		{pattern: "usr/share/doc/", removed: 3, left: []string{"./", "usr/", "usr/share/", "usr/share/man/", "usr/share/man/ls.1"}},
		{pattern: "nothing/here", removed: 0, left: []string{"./", "usr/", "usr/share/", "usr/share/doc/", "usr/share/doc/ls/", "usr/share/doc/ls/copyright", "usr/share/man/", "usr/share/man/ls.1"}},
		{pattern: "usr/[", err: `remove "usr/[": syntax error in pattern`},
		{pattern: "/", err: `remove "/": refusing to remove the root`},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			tree := newTree(t)
			addTar(t, tree, "base",
				tarEntry{Name: "usr/share/doc/", Type: tar.TypeDir},
				tarEntry{Name: "usr/share/doc/ls/", Type: tar.TypeDir},
				tarEntry{Name: "usr/share/doc/ls/copyright", Body: "c"},
				tarEntry{Name: "usr/share/man/", Type: tar.TypeDir},
				tarEntry{Name: "usr/share/man/ls.1", Body: "m"},
			)
			n, err := tree.Remove(tt.pattern)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.removed {
				t.Errorf("removed %d, want %d", n, tt.removed)
			}
			if got := names(readTar(t, writeTar(t, tree))); !reflect.DeepEqual(got, tt.left) {
				t.Errorf("left %q, want %q", got, tt.left)
			}
		})
	}
}

func TestHardlinksStayValidAfterSorting(t *testing.T) {
	layer := []tarEntry{
		{Name: "z/file", Body: "shared"},
		{Name: "a/link", Type: tar.TypeLink, Link: "z/file"},
		{Name: "m/link2", Type: tar.TypeLink, Link: "./z/file"},
	}
	t.Run("target sorts last", func(t *testing.T) {
		tree := newTree(t)
		addTar(t, tree, "layer", layer...)
		got := readTar(t, writeTar(t, tree))
		want := map[string]tarEntry{
			"a/link":  {Type: tar.TypeReg, Body: "shared"},
			"m/link2": {Type: tar.TypeLink, Link: "a/link"},
			"z/file":  {Type: tar.TypeLink, Link: "a/link"},
		}
		checkEntries(t, got, want)
	})
	t.Run("target removed", func(t *testing.T) {
		tree := newTree(t)
		addTar(t, tree, "layer", layer...)
		if _, err := tree.Remove("z"); err != nil {
			t.Fatal(err)
		}
		got := readTar(t, writeTar(t, tree))
		checkEntries(t, got, map[string]tarEntry{
			"a/link":  {Type: tar.TypeReg, Body: "shared"},
			"m/link2": {Type: tar.TypeLink, Link: "a/link"},
		})
	})
	t.Run("target overridden later", func(t *testing.T) {
		tree := newTree(t)
		addTar(t, tree, "layer", layer...)
		addTar(t, tree, "overlay", tarEntry{Name: "z/file", Body: "new"})
		got := readTar(t, writeTar(t, tree))
		checkEntries(t, got, map[string]tarEntry{
			"a/link":  {Type: tar.TypeReg, Body: "shared"},
			"m/link2": {Type: tar.TypeLink, Link: "a/link"},
			"z/file":  {Type: tar.TypeReg, Body: "new"},
		})
	})
	t.Run("dangling link", func(t *testing.T) {
		tree := newTree(t)
		err := tree.AddTar(bytes.NewReader(makeTar(t, tarEntry{Name: "a", Type: tar.TypeLink, Link: "b"})), "bad")
		want := "read tar bad: hard link a -> b: target not in tree"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}

// checkEntries compares the non-directory entries of got with want by name.
func checkEntries(t *testing.T, got []tarEntry, want map[string]tarEntry) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range got {
		if e.Type == tar.TypeDir {
			continue
		}
		w, ok := want[e.Name]
		if !ok {
			t.Errorf("unexpected entry %s", e.Name)
			continue
		}
		if e.Type != w.Type || e.Link != w.Link || e.Body != w.Body {
			t.Errorf("%s = type %c link %q body %q, want type %c link %q body %q",
				e.Name, e.Type, e.Link, e.Body, w.Type, w.Link, w.Body)
		}
		if e.Type == tar.TypeLink && !seen[e.Link] {
			t.Errorf("%s links to %s, which is not earlier in the stream", e.Name, e.Link)
		}
		seen[e.Name] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("missing entry %s", name)
		}
	}
}

func TestNormalisedHeaders(t *testing.T) {
	tree := newTree(t)
	old := modTime.Add(-48 * time.Hour).Unix()
	addTar(t, tree, "base",
		tarEntry{Name: "old", Body: "o", MTime: old, UID: 1000, Uname: "alice"},
		tarEntry{Name: "new", Body: "n", MTime: modTime.Add(time.Hour).Unix()},
		tarEntry{Name: "usr/bin/ping", Body: "elf", Xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02\x00\x20"}},
		tarEntry{Name: "var/log/journal/", Type: tar.TypeDir, Xattrs: map[string]string{"system.posix_acl_access": "acl", "user.note": "n"}},
	)
	if err := tree.AddFile("generated", 0o600, []byte("g"), FileOptions{}); err != nil {
		t.Fatal(err)
	}
	byName := map[string]tarEntry{}
	for _, e := range readTar(t, writeTar(t, tree)) {
		byName[e.Name] = e
	}
	if e := byName["old"]; e.MTime != old || e.UID != 1000 || e.Uname != "" {
		t.Errorf("old = mtime %d uid %d uname %q, want %d 1000 \"\"", e.MTime, e.UID, e.Uname, old)
	}
	for _, n := range []string{"new", "generated", "./", "usr/"} {
		if e := byName[n]; e.MTime != modTime.Unix() {
			t.Errorf("%s mtime = %d, want ModTime %d", n, e.MTime, modTime.Unix())
		}
	}
	if got := byName["usr/bin/ping"].Xattrs["security.capability"]; got != "\x01\x00\x00\x02\x00\x20" {
		t.Errorf("security.capability = %q, want it kept", got)
	}
	if got, want := byName["var/log/journal/"].Xattrs, map[string]string{"user.note": "n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("journal xattrs = %q, want %q (POSIX ACLs dropped)", got, want)
	}
}

func TestWriteTarRequiresModTime(t *testing.T) {
	err := newTree(t).WriteTar(&bytes.Buffer{}, WriteOptions{})
	if want := "write rootfs tar: WriteOptions.ModTime is required"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestReproducible builds the same tree twice from a host directory whose
// mtimes change in between, and from a tarball read seekably and streamed.
func TestReproducible(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"etc/motd": "hi", "usr/bin/tool": "#!/bin/sh\n", "b": "b", "a": "a"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "b"), filepath.Join(dir, "etc/b-link")); err != nil {
		t.Fatal(err)
	}
	base := makeTar(t, tarEntry{Name: "usr/", Type: tar.TypeDir}, tarEntry{Name: "usr/lib/os-release", Body: "ID=debian\n"},
		tarEntry{Name: "usr/lib/big", Body: strings.Repeat("x", 5000)}, tarEntry{Name: "usr/lib/after", Body: "after"})
	basePath := filepath.Join(t.TempDir(), "base.tar")
	if err := os.WriteFile(basePath, base, 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(seekable bool) []byte {
		tree := newTree(t)
		var err error
		if seekable {
			err = tree.AddTarFile(basePath, "base")
		} else {
			err = tree.AddTar(bytes.NewReader(base), "base")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.AddDir(dir, "/", DirOptions{Origin: "overlay"}); err != nil {
			t.Fatal(err)
		}
		return writeTar(t, tree)
	}
	first := build(true)
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "etc/motd"), future, future); err != nil {
		t.Fatal(err)
	}
	if second := build(false); !bytes.Equal(first, second) {
		t.Fatalf("two builds differ (%d vs %d bytes)", len(first), len(second))
	}
	got := readTar(t, first)
	checkEntries(t, got, map[string]tarEntry{
		"a": {Type: tar.TypeReg, Body: "a"}, "b": {Type: tar.TypeReg, Body: "b"},
		"etc/b-link": {Type: tar.TypeLink, Link: "b"}, "etc/motd": {Type: tar.TypeReg, Body: "hi"},
		"usr/bin/tool": {Type: tar.TypeReg, Body: "#!/bin/sh\n"}, "usr/lib/after": {Type: tar.TypeReg, Body: "after"},
		"usr/lib/big": {Type: tar.TypeReg, Body: strings.Repeat("x", 5000)}, "usr/lib/os-release": {Type: tar.TypeReg, Body: "ID=debian\n"},
	})
}

// TestContentStaysOnDisk streams 64 MB of file content through AddTar and
// checks that the heap does not keep it, and that Close removes the spool.
func TestContentStaysOnDisk(t *testing.T) {
	spoolDir := t.TempDir()
	tree := New(Options{TempDir: spoolDir})
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
		for i := range 8 {
			hdr := &tar.Header{Name: fmt.Sprintf("images/part%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: 8 << 20}
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			for range 8 {
				tw.Write(chunk)
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := tree.AddTar(pr, "payload"); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Errorf("heap grew by %d bytes for 64 MB of content", grown)
	}
	if n, err := io.Copy(io.Discard, mustOpen(t, tree, "images/part7")); err != nil || n != 8<<20 {
		t.Errorf("read part7: %d bytes, %v", n, err)
	}
	if err := tree.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("Close left spool files: %v", left)
	}
}

func mustOpen(t *testing.T, tree *Tree, name string) io.Reader {
	t.Helper()
	f, err := tree.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
