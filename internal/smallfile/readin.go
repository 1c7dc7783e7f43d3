package smallfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ReadIn is Read for the file name in the open directory dir, where name
// is one path element and must not be a symbolic link: for a directory
// whose content someone else controls (a seed volume, a directory a
// service account owns), where a link could point anywhere. A missing
// file's error satisfies errors.Is(err, fs.ErrNotExist).
func ReadIn(dir *os.File, name string, max int64) ([]byte, error) {
	path := filepath.Join(dir.Name(), name)
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return nil, fmt.Errorf("read %s: %q is not one path element", path, name)
	}
	raw, err := dir.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fd := -1
	ctlErr := raw.Control(func(dirfd uintptr) {
		fd, err = unix.Openat(int(dirfd), name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	switch {
	case ctlErr != nil:
		return nil, fmt.Errorf("read %s: %w", path, ctlErr)
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("read %s: a symbolic link, not a regular file", path)
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	return readOpen(f, path, max)
}
