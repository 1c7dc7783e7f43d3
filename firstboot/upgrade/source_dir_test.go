package upgrade

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// TestDirSource: a bundle directory's files are read only when regular
// and not symbolic links, at the manifest's size, without blocking on a
// FIFO.
func TestDirSource(t *testing.T) {
	dir := t.TempDir()
	data := testContent(5000)
	outside := filepath.Join(t.TempDir(), "elsewhere")
	for path, content := range map[string][]byte{
		filepath.Join(dir, upgradebundle.OSImageFile):  data,
		filepath.Join(dir, upgradebundle.ManifestFile): []byte("{}"),
		outside: data,
	} {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, upgradebundle.KernelFile)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, upgradebundle.InitrdFile), 0o644); err != nil {
		t.Fatal(err)
	}
	// The manifest's path names the directory too.
	src, err := OpenSource(filepath.Join(dir, upgradebundle.ManifestFile), HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.String() != dir {
		t.Errorf("source %s, want %s", src, dir)
	}
	got, err := readStream(t, src, fileOf(upgradebundle.OSImageFile, data))
	if err != nil || string(got) != string(data) {
		t.Fatalf("os.squashfs: %d bytes, %v", len(got), err)
	}
	short := fileOf(upgradebundle.OSImageFile, data)
	short.Size = 6000
	for _, tc := range []struct {
		f    upgradebundle.File
		want string
	}{
		{fileOf(upgradebundle.KernelFile, data), "vmlinuz: a symbolic link, not a regular file"},
		{fileOf(upgradebundle.InitrdFile, data), "initrd.img: a named pipe (FIFO), not a regular file"},
		{short, "os.squashfs is 5000 bytes, the manifest says 6000: truncated or changed bundle"},
		{fileOf(upgradebundle.PayloadFile, data), "open payload.tar: no such file or directory"},
	} {
		done := make(chan error, 1)
		go func() { _, err := readStream(t, src, tc.f); done <- err }()
		select {
		case err := <-done:
			if err == nil || err.Error() != tc.want {
				t.Errorf("%s: %v, want %q", tc.f.Name, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: blocks", tc.f.Name)
		}
	}
	if _, err := src.ReadSmall(context.Background(), upgradebundle.KernelFile, 1<<20); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("ReadSmall of a link: %v", err)
	}
	// An interrupted command stops reading.
	ctx, cancel := context.WithCancel(context.Background())
	r, err := src.Open(ctx, fileOf(upgradebundle.OSImageFile, data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cancel()
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Errorf("read after the context ended: %v", err)
	}
}

// TestExactReader: a file that grows or shrinks while it is read is
// caught, whatever the manifest said at open.
func TestExactReader(t *testing.T) {
	f := upgradebundle.File{Name: "x", Size: 10}
	for _, tc := range []struct {
		content string
		want    string
	}{
		{"0123456789", ""},
		{"012345678", "x is 9 bytes, the manifest says 10"},
		{"0123456789A", "x is longer than the manifest's 10 bytes"},
	} {
		got, err := io.ReadAll(&exactReader{r: strings.NewReader(tc.content), f: f})
		switch {
		case tc.want == "" && (err != nil || string(got) != tc.content):
			t.Errorf("%q: %q, %v", tc.content, got, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, errTruncated)):
			t.Errorf("%q: %v, want %q", tc.content, err, tc.want)
		case len(got) > 10:
			t.Errorf("%q: passed on %d bytes", tc.content, len(got))
		}
	}
}

func TestOpenSourceRefuses(t *testing.T) {
	for loc, want := range map[string]string{
		"ftp://host/b":              "want a directory, its manifest.json, or an http(s) URL",
		"http:///nohost":            "want http(s)://HOST/PATH",
		"/nonexistent/bundle":       "bundle directory /nonexistent/bundle: no such file or directory",
		"/etc/hostname-not-a-dir/x": "no such file",
	} {
		if _, err := OpenSource(loc, HTTPOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenSource(%q): %v, want %q", loc, err, want)
		}
	}
}
