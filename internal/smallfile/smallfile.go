// Package smallfile reads files the builder and the node agent do not own
// (a site's config and secrets, /proc, /sys, /etc, /boot): a path there may
// be a FIFO, a device or a file far larger than expected, and reading one
// must neither block nor exhaust memory. Read opens non-blocking, refuses anything but a
// regular file (symbolic links are followed), and stops at a size bound. ReadIn does the
// same for a name in an open directory, refusing a symbolic link.
package smallfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// What Read and ReadIn refuse, wrapped in an *fs.PathError (Op "read") so
// a caller can tell them apart with errors.Is and word its own message.
var (
	// ErrNotRegular: the path is a directory, FIFO, device or socket.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file holds more than the bound.
	ErrTooLarge = errors.New("larger than the bound")
)

// tooLarge is ErrTooLarge with the bound in its text.
type tooLarge int64

func (t tooLarge) Error() string      { return fmt.Sprintf("larger than %d bytes", int64(t)) }
func (tooLarge) Is(target error) bool { return target == ErrTooLarge }

// Read returns the content of path, a regular file of at most max bytes.
// A missing file's error satisfies errors.Is(err, fs.ErrNotExist).
func Read(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(f, path, max)
}

// readOpen reads f, opened from path, as Read does.
func readOpen(f *os.File, path string, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, fi.Mode().Type())}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: tooLarge(max)}
	}
	return data, nil
}
