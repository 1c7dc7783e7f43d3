package smallfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		max  int64
		want string // content, or the error's end
	}{
		{file, 5, "12345"},
		{filepath.Join(dir, "link"), 5, "12345"},
		{file, 4, "larger than 4 bytes"},
		{fifo, 5, "not a regular file (p---------)"},
		{dir, 5, "not a regular file (d---------)"},
	} {
		done := make(chan struct{})
		var data []byte
		var err error
		go func() { data, err = Read(tc.path, tc.max); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Read(%s) blocks", tc.path)
		}
		if err != nil {
			if !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("Read(%s, %d): %v, want %q", tc.path, tc.max, err, tc.want)
			}
		} else if string(data) != tc.want {
			t.Errorf("Read(%s, %d) = %q, want %q", tc.path, tc.max, data, tc.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
