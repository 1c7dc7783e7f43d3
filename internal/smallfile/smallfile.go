// Package smallfile reads files the builder and the node agent do not own
// (a site's config and secrets, /proc, /sys, /etc, /boot): a path there may
// be a FIFO, a device or a file far larger than expected, and reading one
// must neither block nor exhaust memory. Read opens non-blocking, refuses anything but a
// regular file (symbolic links are followed), and stops at a size bound.
package smallfile

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Read returns the content of path, a regular file of at most max bytes.
// A missing file's error satisfies errors.Is(err, fs.ErrNotExist).
func Read(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, max)
	}
	return data, nil
}
