package report

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A digest that matches HashFile's describes the file without reading it;
// a wrong length, a malformed sum or a file that is not regular is refused
// by name.
func TestDescribeDigest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(file, []byte("a disk image"), 0o644); err != nil {
		t.Fatal(err)
	}
	size, sum, err := HashFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	hashed, err := Describe("raw", file, "site.raw")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DescribeDigest("raw", file, "site.raw", Digest{Size: size, SHA256: sum}); err != nil || got != hashed {
		t.Errorf("DescribeDigest = %+v, %v; want Describe's %+v", got, err, hashed)
	}
	for _, c := range []struct {
		name string
		path string
		d    Digest
		want string
	}{
		{"other length", file, Digest{Size: size + 1, SHA256: sum}, "it is 12 bytes, the digest is of 13 bytes"},
		{"upper-case sum", file, Digest{Size: size, SHA256: strings.ToUpper(sum)}, "is not 64 lower-case hex digits"},
		{"short sum", file, Digest{Size: size, SHA256: sum[:62]}, "is not 64 lower-case hex digits"},
		{"no sum", file, Digest{Size: size}, "is not 64 lower-case hex digits"},
		// Refused from its mode: a FIFO is never opened, so never waited on.
		{"a FIFO", fifo, Digest{Size: 0, SHA256: sum}, "it is a named pipe (FIFO), not a regular file"},
		{"missing", filepath.Join(dir, "gone"), Digest{Size: size, SHA256: sum}, "no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DescribeDigest("raw", c.path, "site.raw", c.d)
			if err == nil || !strings.HasPrefix(err.Error(), "describe raw: digest of "+c.path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("DescribeDigest error %v, want one about %s containing %q", err, c.path, c.want)
			}
		})
	}
}
