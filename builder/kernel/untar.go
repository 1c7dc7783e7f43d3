package kernel

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// What one kernel package may unpack to, so that a hostile one cannot fill
// the build host's disk. Debian 12's largest, linux-image-6.1.0-57-amd64,
// is 71 MB packed and 407 MB unpacked in 4,941 entries, its largest file
// amdgpu.ko at 19 MB; linux-image-6.1.0-57-cloud-amd64 is 107 MB in 1,379
// entries (dpkg-deb -c). The bounds are generous multiples of those.
const (
	maxDebEntries    = 100_000   // entries of every type, 20 times a kernel's
	maxDebFileBytes  = 512 << 20 // one regular file, 27 times the largest seen
	maxDebTotalBytes = 2 << 30   // all regular files together, 5 times the largest kernel
)

// limits bound one archive. Directories (those made for an entry's
// missing parents too), symbolic links and hard links count as entries
// and hold no bytes.
type limits struct {
	entries             int
	fileBytes, allBytes int64
}

func debLimits() limits {
	return limits{entries: maxDebEntries, fileBytes: maxDebFileBytes, allBytes: maxDebTotalBytes}
}

// extractor writes the entries of one archive below root.
type extractor struct {
	root    int // descriptor of the destination directory
	lim     limits
	entries int
	bytes   int64
}

// untar writes the entries of tr below dir: directories, regular files,
// symbolic links that stay inside dir and hard links to regular files
// written before. No entry is written through a symbolic link or outside
// dir (beneath.go), and the archive must keep within lim.
func untar(tr *tar.Reader, dir string, lim limits) error {
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(root)
	x := &extractor{root: root, lim: lim}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar after %d entries: %w", x.entries, err)
		}
		if err := x.entry(h, tr); err != nil {
			return fmt.Errorf("tar entry %q: %w", h.Name, err)
		}
	}
}

// count counts one more entry, or a directory made for one.
func (x *extractor) count() error {
	if x.entries++; x.entries > x.lim.entries {
		return fmt.Errorf("the archive has more than %d entries (directories made for them included), the limit for a kernel package", x.lim.entries)
	}
	return nil
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	if err := x.count(); err != nil {
		return err
	}
	rel, err := entryPath(h.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		if h.Typeflag != tar.TypeDir {
			return errors.New("names the destination itself")
		}
		return nil
	}
	mode := uint32(fs.FileMode(h.Mode).Perm())
	switch h.Typeflag {
	case tar.TypeDir:
		return x.mkdir(rel, mode)
	case tar.TypeReg:
		return x.writeFile(rel, r, h.Size, mode)
	case tar.TypeSymlink:
		return x.symlink(rel, h.Linkname)
	case tar.TypeLink:
		return x.link(rel, h.Linkname)
	}
	// Device nodes and fifos have no place in a kernel package.
	return fmt.Errorf("unsupported type %q", h.Typeflag)
}

// entryPath turns an archive name ("./boot/", "boot") into a clean
// relative path; an absolute name or one with a ".." component is refused.
func entryPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute name: escapes the destination")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errors.New("\"..\" in the name: escapes the destination")
		}
	}
	return path.Clean(name), nil
}

// inParent runs fn with a descriptor of rel's parent directory, made if
// missing, and rel's last component.
func (x *extractor) inParent(rel string, fn func(parent int, base string) error) error {
	parent, err := x.openDir(path.Dir(rel), true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	return fn(parent, path.Base(rel))
}

// mkdir makes the directory rel, or keeps it if it exists, and sets its
// mode; a symbolic link there is refused, not followed.
func (x *extractor) mkdir(rel string, mode uint32) error {
	return x.inParent(rel, func(parent int, base string) error {
		if err := unix.Mkdirat(parent, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return &fs.PathError{Op: "mkdir", Path: rel, Err: err}
		}
		fd, err := openBeneath(parent, base)
		if err != nil {
			return describe(x.root, rel, err)
		}
		defer unix.Close(fd)
		if err := unix.Fchmod(fd, mode); err != nil {
			return &fs.PathError{Op: "chmod", Path: rel, Err: err}
		}
		return nil
	})
}

// writeFile creates the regular file rel, which must not exist, with
// size bytes of r.
func (x *extractor) writeFile(rel string, r io.Reader, size int64, mode uint32) error {
	if size > x.lim.fileBytes {
		return fmt.Errorf("%d bytes: more than %d, the limit for one file of a kernel package", size, x.lim.fileBytes)
	}
	if x.bytes += size; x.bytes > x.lim.allBytes {
		return fmt.Errorf("the archive unpacks to more than %d bytes, the limit for a kernel package", x.lim.allBytes)
	}
	return x.inParent(rel, func(parent int, base string) error {
		fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err != nil {
			return &fs.PathError{Op: "create", Path: rel, Err: err}
		}
		f := os.NewFile(uintptr(fd), rel)
		n, err := io.Copy(f, io.LimitReader(r, size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		switch {
		case err != nil:
			return fmt.Errorf("write %s: %w", rel, err)
		case n != size:
			return fmt.Errorf("write %s: %d bytes of %d", rel, n, size)
		}
		return nil
	})
}

// symlink makes rel a symbolic link to target, which must stay inside the
// destination (checkLinkTarget).
func (x *extractor) symlink(rel, target string) error {
	if err := checkLinkTarget(rel, target); err != nil {
		return err
	}
	return x.inParent(rel, func(parent int, base string) error {
		if err := unix.Symlinkat(target, parent, base); err != nil {
			return &fs.PathError{Op: "symlink", Path: rel, Err: err}
		}
		return nil
	})
}

// checkLinkTarget refuses a symbolic link at rel to target unless target
// is relative and climbs no higher than the destination. The rule keeps
// every link, and every chain of links, inside: entries are only ever
// written to their real location (never through a link), so the link's
// directory is as deep as rel says; ".." may only lead target, so it
// counts from that real directory; what follows only descends. A Debian
// kernel package holds no symbolic link at all; an absolute one would
// name the build host's files to every tool that reads the unpacked tree
// (depmod writes in it).
func checkLinkTarget(rel, target string) error {
	if target == "" {
		return errors.New("symbolic link with an empty target")
	}
	if strings.HasPrefix(target, "/") {
		return fmt.Errorf("symbolic link to %q: an absolute target leaves the package", target)
	}
	up, named := 0, false
	for _, c := range strings.Split(target, "/") {
		switch {
		case c == "" || c == ".":
		case c != "..":
			named = true
		case named:
			return fmt.Errorf("symbolic link to %q: \"..\" may only lead the target", target)
		default:
			up++
		}
	}
	if up > strings.Count(rel, "/") {
		return fmt.Errorf("symbolic link to %q leaves the package", target)
	}
	return nil
}

// link makes rel a hard link to the regular file linkname, an earlier
// entry of the archive reached without a symbolic link.
func (x *extractor) link(rel, linkname string) error {
	old, err := entryPath(linkname)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", linkname, err)
	}
	oldDir, err := x.openDir(path.Dir(old), false)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", linkname, err)
	}
	defer unix.Close(oldDir)
	oldBase := path.Base(old)
	var st unix.Stat_t
	if err := unix.Fstatat(oldDir, oldBase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hard link to %q: %w", linkname, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("hard link to %q: not a regular file", linkname)
	}
	return x.inParent(rel, func(parent int, base string) error {
		if err := unix.Linkat(oldDir, oldBase, parent, base, 0); err != nil {
			return &fs.PathError{Op: "link", Path: rel, Err: err}
		}
		return nil
	})
}
