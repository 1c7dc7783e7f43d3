package smallfile

import (
	"errors"
	"fmt"
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
		checkRead(t, fmt.Sprintf("Read(%s, %d)", tc.path, tc.max), func() ([]byte, error) { return Read(tc.path, tc.max) }, tc.want)
	}
	if _, err := Read(filepath.Join(dir, "missing"), 5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadIn(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	for path, data := range map[string]string{filepath.Join(dir, "f"): "12345", outside: "secret"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name string
		max  int64
		want string // content, or the error's end
	}{
		{"f", 5, "12345"},
		{"f", 4, "larger than 4 bytes"},
		{"link", 5, "link: a symbolic link, not a regular file"},
		{"fifo", 5, "not a regular file (p---------)"},
		{"../f", 5, `"../f" is not one path element`},
	} {
		checkRead(t, fmt.Sprintf("ReadIn(%s, %d)", tc.name, tc.max), func() ([]byte, error) { return ReadIn(d, tc.name, tc.max) }, tc.want)
	}
	if _, err := ReadIn(d, "missing", 5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// checkRead runs read, named call in messages, and checks that it returns
// within 5 s the content want or an error ending with want.
func checkRead(t *testing.T, call string, read func() ([]byte, error), want string) {
	t.Helper()
	done := make(chan struct{})
	var data []byte
	var err error
	go func() { data, err = read(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocks", call)
	}
	if err != nil {
		if !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", call, err, want)
		}
	} else if string(data) != want {
		t.Errorf("%s = %q, want %q", call, data, want)
	}
}

// TestReadErrors: what Read refuses is an *fs.PathError a caller can tell
// apart with errors.Is.
func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		target error
	}{{dir, ErrNotRegular}, {"/dev/zero", ErrNotRegular}, {file, ErrTooLarge}} {
		_, err := Read(tc.path, 4)
		var pe *fs.PathError
		if !errors.Is(err, tc.target) || !errors.As(err, &pe) || pe.Path != tc.path {
			t.Errorf("Read(%s): %v, want an *fs.PathError for %s matching %v", tc.path, err, tc.path, tc.target)
		}
	}
}
