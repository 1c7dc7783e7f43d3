package cloudconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/internal/nofollow"
	"golang.org/x/sys/unix"
)

// write_files writes under the root without following a symbolic link in
// any element of the path: a directory that a service account owns
// (/var/lib/<service>, which persists on STATE) could otherwise hold a link
// that sends root's write, append read, chown or chmod anywhere. Each
// directory is opened from its parent's descriptor with O_NOFOLLOW, and the
// file is written and renamed through the last one, so nothing is resolved
// by name twice. This works on every Linux; openat2's RESOLVE_NO_SYMLINKS
// (Linux 5.6) would do the walk in one call but not create the missing
// directories on the way.

// linkError says that an element of a write_files path is a symbolic link.
type linkError struct {
	path, target string // path as the document names it
}

func (e *linkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link (to %s): write_files neither follows nor replaces symbolic links; name the file by a path without one", e.path, e.target)
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openDirNoFollow opens dir (absolute and clean, a path of the host) under
// root, one element at a time; no element may be a symbolic link. With
// create, missing directories are made with mode 0755 (less the umask);
// without, a missing directory gives nil and no error. root itself is
// trusted and opened as named.
func openDirNoFollow(root, dir string, create bool) (*os.File, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	at := "/"
	for _, name := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if name == "" {
			continue
		}
		if name == "." || name == ".." {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: not a clean path", dir)
		}
		at = path.Join(at, name)
		next, err := unix.Openat(fd, name, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, name, dirFlags, 0)
			}
		}
		if err != nil {
			err = describeEntry(fd, name, at, err)
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !create:
			return nil, nil
		case err != nil:
			return nil, err
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, dir)), nil
}

// describeEntry turns the failure err of opening name in dirfd (at, as
// the document names it) into an error that says what is there.
func describeEntry(dirfd int, name, at string, err error) error {
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			return &linkError{path: at, target: nofollow.LinkTarget(dirfd, name)}
		case unix.S_IFDIR:
		default:
			return fmt.Errorf("%s is not a directory", at)
		}
	}
	return &fs.PathError{Op: "open", Path: at, Err: err}
}

// checkReplaceable says whether name in dir (at, as the document names
// it) may be replaced: it is missing or a regular file, not a symbolic
// link, a directory, a device, a FIFO or a socket.
func checkReplaceable(dir *os.File, name, at string) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return &fs.PathError{Op: "stat", Path: at, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFLNK:
		return &linkError{path: at, target: nofollow.LinkTarget(int(dir.Fd()), name)}
	case unix.S_IFDIR:
		return fmt.Errorf("%s is a directory", at)
	}
	return fmt.Errorf("%s is not a regular file", at)
}

// writeFileIn replaces name in dir with data, mode perm and owner o, the
// way atomicfile.Write does (a temporary file with owner set, then mode,
// fsync, rename, fsync of the directory), but through dir's descriptor:
// the temporary file is created with O_EXCL|O_NOFOLLOW, chown and chmod
// act on its descriptor, and the rename replaces the directory entry
// itself. Leftovers of interrupted writes of name are removed first.
func writeFileIn(dir *os.File, name string, data []byte, perm fs.FileMode, o owner) (err error) {
	dirfd := int(dir.Fd())
	target := filepath.Join(dir.Name(), name)
	prefix := tempPrefix + name + ".tmp-"
	if err := removeLeftoversIn(dir, prefix); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	tmpName := fmt.Sprintf("%s%016x", prefix, rand.Uint64())
	fd, err := unix.Openat(dirfd, tmpName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	tmp := os.NewFile(uintptr(fd), filepath.Join(dir.Name(), tmpName))
	defer func() {
		if err != nil {
			tmp.Close()
			unix.Unlinkat(dirfd, tmpName, 0)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if err := o.apply(target, tmp.Chown); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", target, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", target, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", target, err)
	}
	if err := unix.Renameat(dirfd, tmpName, dirfd, name); err != nil {
		return fmt.Errorf("rename %s: %w", target, err)
	}
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir.Name(), err)
	}
	return nil
}

// removeLeftoversIn removes the regular files in dir whose names start
// with prefix.
func removeLeftoversIn(dir *os.File, prefix string) error {
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	if _, err := dir.Seek(0, 0); err != nil {
		return err
	}
	for _, n := range names {
		var st unix.Stat_t
		if !strings.HasPrefix(n, prefix) || unix.Fstatat(int(dir.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if err := unix.Unlinkat(int(dir.Fd()), n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}
