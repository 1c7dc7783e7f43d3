package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/ctxio"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// dirSource is a bundle directory on this node (a USB stick, a copy on
// STATE). Its files are opened inside the directory without following a
// symbolic link, non-blocking, and only when regular: a bundle is data
// someone handed the node.
type dirSource struct {
	dir *os.File
}

func openDirSource(path string) (*dirSource, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("bundle directory: %w", err)
	}
	dir, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bundle directory %s: %w", path, smallfile.Cause(err))
	}
	return &dirSource{dir: dir}, nil
}

func (d *dirSource) String() string { return d.dir.Name() }

func (d *dirSource) Close() error { return d.dir.Close() }

func (d *dirSource) ReadSmall(_ context.Context, name string, max int64) ([]byte, error) {
	data, err := smallfile.ReadIn(d.dir, name, max)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, smallfile.Cause(err))
	}
	return data, nil
}

func (d *dirSource) Open(ctx context.Context, f upgradebundle.File) (io.ReadCloser, error) {
	raw, err := d.dir.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	fd := -1
	ctlErr := raw.Control(func(dirfd uintptr) {
		fd, err = unix.Openat(int(dirfd), f.Name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	switch {
	case ctlErr != nil:
		return nil, fmt.Errorf("%s: %w", f.Name, ctlErr)
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s: a symbolic link, not a regular file", f.Name)
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: f.Name, Err: err}
	}
	file := os.NewFile(uintptr(fd), f.Name)
	info, err := file.Stat()
	switch {
	case err != nil:
		file.Close()
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	case !info.Mode().IsRegular():
		file.Close()
		return nil, fmt.Errorf("%s: %s, not a regular file", f.Name, smallfile.Kind(info.Mode()))
	case info.Size() != f.Size:
		file.Close()
		return nil, sizeError(f, info.Size())
	}
	return &fileStream{exactReader: exactReader{r: ctxio.Reader(ctx, file), f: f}, file: file}, nil
}
