package pxe

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLinkOrCopyPutsTheBytesNeverALink gives linkOrCopy what a build
// host may have at a source path: a regular file, absolute and relative
// symbolic links to one (Debian's /usr/lib/ipxe/ipxe.efi), a chain of
// links, a dangling link, a FIFO, a directory.
func TestLinkOrCopyPutsTheBytesNeverALink(t *testing.T) {
	src := t.TempDir()
	target := filepath.Join(src, "ipxe.efi.real")
	if err := os.WriteFile(target, []byte("iPXE bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, to := range map[string]string{
		"absolute": target, "relative": "ipxe.efi.real", "chain": "absolute", "dangling": filepath.Join(src, "gone"),
	} {
		if err := os.Symlink(to, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		want string // content, or the error's end
		err  bool
	}{
		{src: "ipxe.efi.real", want: "iPXE bytes"},
		{src: "absolute", want: "iPXE bytes"},
		{src: "relative", want: "iPXE bytes"},
		{src: "chain", want: "iPXE bytes"},
		{src: "dangling", want: "no such file or directory", err: true},
		{src: "fifo", want: "fifo: not a regular file (p---------)", err: true},
		{src: ".", want: ": not a regular file (d---------)", err: true},
	} {
		dst := filepath.Join(t.TempDir(), "out")
		done := make(chan error, 1)
		go func() { done <- linkOrCopy(filepath.Join(src, tc.src), dst) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("linkOrCopy(%s) blocks", tc.src)
		}
		if tc.err {
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("linkOrCopy(%s): %v, want an error ending %q", tc.src, err, tc.want)
			}
			if _, err := os.Lstat(dst); err == nil {
				t.Errorf("linkOrCopy(%s) failed but left %s", tc.src, dst)
			}
			continue
		}
		if err != nil {
			t.Errorf("linkOrCopy(%s): %v", tc.src, err)
			continue
		}
		info, err := os.Lstat(dst)
		if err != nil || !info.Mode().IsRegular() {
			t.Errorf("linkOrCopy(%s) made %v (%v), want a regular file", tc.src, info.Mode(), err)
			continue
		}
		if got := mustRead(t, dst); got != tc.want {
			t.Errorf("linkOrCopy(%s) wrote %q, want %q", tc.src, got, tc.want)
		}
	}
}
