package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ml-appliance/appliance/internal/nofollow"
	"golang.org/x/sys/unix"
)

// A kernel package is unpacked on the build host, as root, from a file the
// site names by URL: nothing in it may reach outside the unpack directory.
// Every directory an entry is written into is opened with openat2(2)
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (Linux 5.6) from the unpack
// directory's descriptor, so the kernel refuses a symbolic link in any
// component (ELOOP) and any way out of the directory; the entry itself is
// then made relative to that descriptor (mkdirat, openat with
// O_CREAT|O_EXCL|O_NOFOLLOW, symlinkat, linkat without AT_SYMLINK_FOLLOW),
// none of which follows a link in the last component either.

const beneathResolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openBeneath opens the directory rel (slash-separated, relative) below
// dirfd; a symbolic link in any of its components is ELOOP.
func openBeneath(dirfd int, rel string) (int, error) {
	return unix.Openat2(dirfd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: beneathResolve,
	})
}

// openDir opens the directory dir below the destination. With create,
// missing directories on the way are made (mode 0755 less the umask), each
// from its parent's descriptor, and count as entries of the archive.
func (x *extractor) openDir(dir string, create bool) (int, error) {
	fd, err := openBeneath(x.root, dir)
	if errors.Is(err, unix.ENOENT) && create && dir != "." {
		parent, perr := x.openDir(path.Dir(dir), true)
		if perr != nil {
			return -1, perr
		}
		defer unix.Close(parent)
		if err := x.count(); err != nil {
			return -1, fmt.Errorf("make %s: %w", dir, err)
		}
		if err := unix.Mkdirat(parent, path.Base(dir), 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, &fs.PathError{Op: "mkdir", Path: dir, Err: err}
		}
		fd, err = openBeneath(parent, path.Base(dir))
	}
	if err != nil {
		return -1, describe(x.root, dir, err)
	}
	return fd, nil
}

// describe turns the failure err of opening the directory p below root
// into an error that names the component at fault.
func describe(root int, p string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		parts := strings.Split(p, "/")
		for i := range parts {
			prefix := strings.Join(parts[:i+1], "/")
			var st unix.Stat_t
			if unix.Fstatat(root, prefix, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				break
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				continue
			case unix.S_IFLNK:
				return fmt.Errorf("%s is a symbolic link (to %q): nothing is written through one", prefix, nofollow.LinkTarget(root, prefix))
			}
			return fmt.Errorf("%s is not a directory", prefix)
		}
	}
	return &fs.PathError{Op: "open", Path: p, Err: err}
}
