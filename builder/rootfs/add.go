package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

const spoolPrefix = "rootfs-spool-"

// AddTar adds every entry of the tar stream r as one layer named origin.
// When r is a regular *os.File positioned at the start of the archive, file
// content is read from it later (the Tree keeps its own descriptor);
// otherwise content is copied to a spool file.
func (t *Tree) AddTar(r io.Reader, origin string) error {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return t.addSeekableTar(f, origin)
		}
	}
	spool, err := os.CreateTemp(t.opts.TempDir, spoolPrefix+"*")
	if err != nil {
		return fmt.Errorf("add tar %s: %w", origin, err)
	}
	t.files = append(t.files, spool)
	t.spools = append(t.spools, spool.Name())
	return t.readTar(r, origin, func(tr *tar.Reader, hdr *tar.Header) (*blob, error) {
		return t.spoolContent(spool, tr, hdr.Size)
	})
}

// AddTarFile adds the uncompressed tarball at path as one layer.
func (t *Tree) AddTarFile(path, origin string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("add tar %s: %w", origin, err)
	}
	defer f.Close()
	return t.AddTar(f, origin)
}

func (t *Tree) addSeekableTar(f *os.File, origin string) error {
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("add tar %s: dup: %w", origin, err)
	}
	own := os.NewFile(uintptr(fd), f.Name())
	t.files = append(t.files, own)
	var spool *os.File
	return t.readTar(f, origin, func(tr *tar.Reader, hdr *tar.Header) (*blob, error) {
		if !isSparse(hdr) {
			// archive/tar reads headers straight from f, so f's offset
			// is now the start of this entry's data.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			return &blob{file: own, off: off, size: hdr.Size}, nil
		}
		if spool == nil {
			if spool, err = os.CreateTemp(t.opts.TempDir, spoolPrefix+"*"); err != nil {
				return nil, err
			}
			t.files = append(t.files, spool)
			t.spools = append(t.spools, spool.Name())
		}
		return t.spoolContent(spool, tr, hdr.Size)
	})
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (t *Tree) spoolContent(spool *os.File, r io.Reader, size int64) (*blob, error) {
	off, err := spool.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(spool, r)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if n != size {
		return nil, fmt.Errorf("spool: read %d bytes, header says %d", n, size)
	}
	return &blob{file: spool, off: off, size: size}, nil
}

type contentFunc func(tr *tar.Reader, hdr *tar.Header) (*blob, error)

func (t *Tree) readTar(r io.Reader, origin string, content contentFunc) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar %s: %w", origin, err)
		}
		name := cleanName(hdr.Name)
		if name == ".." || strings.HasPrefix(name, "../") {
			// The tree is data, never unpacked on the host, but such a
			// name has no place in a root filesystem and would reach
			// every consumer of the stream.
			return fmt.Errorf("read tar %s: %q leaves the root", origin, hdr.Name)
		}
		e := &entry{hdr: *hdr, origin: origin}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse: // the reader turns TypeRegA into TypeReg
			e.hdr.Typeflag = tar.TypeReg
			if e.blob, err = content(tr, hdr); err != nil {
				return fmt.Errorf("read tar %s: %s: %w", origin, hdr.Name, err)
			}
		case tar.TypeLink:
			target, ok := t.entries[cleanName(hdr.Linkname)]
			if !ok {
				return fmt.Errorf("read tar %s: hard link %s -> %s: target not in tree", origin, hdr.Name, hdr.Linkname)
			}
			// A hard link is the same inode: same content and metadata.
			e.hdr = target.hdr
			e.blob = target.blob
		case tar.TypeDir, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		case tar.TypeXGlobalHeader:
			continue
		default:
			return fmt.Errorf("read tar %s: %s: unsupported entry type %q", origin, hdr.Name, hdr.Typeflag)
		}
		if err := t.put(name, e); err != nil {
			return err
		}
	}
}

// FileOptions sets owner and mtime of entries added one by one. The zero
// value means root-owned with the build's ModTime.
type FileOptions struct {
	UID, GID int
	Origin   string
}

func (o FileOptions) header(name string, typ byte, mode fs.FileMode) tar.Header {
	return tar.Header{Name: name, Typeflag: typ, Mode: int64(tarMode(mode)), Uid: o.UID, Gid: o.GID}
}

// tarMode maps permission, setuid, setgid and sticky bits to tar mode bits.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// AddFile adds a regular file whose content is held in memory; for small
// generated files such as configuration.
func (t *Tree) AddFile(name string, mode fs.FileMode, content []byte, opts FileOptions) error {
	e := &entry{hdr: opts.header(name, tar.TypeReg, mode), origin: opts.Origin}
	e.hdr.Size = int64(len(content))
	e.blob = &blob{data: content, size: int64(len(content))}
	return t.put(cleanName(name), e)
}

// AddFileFrom adds a regular file whose content is read from hostPath when
// the tar stream is written; for large payloads.
func (t *Tree) AddFileFrom(name string, mode fs.FileMode, hostPath string, opts FileOptions) error {
	st, err := os.Stat(hostPath)
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("add %s: %s is not a regular file", name, hostPath)
	}
	e := &entry{hdr: opts.header(name, tar.TypeReg, mode), origin: opts.Origin}
	e.hdr.Size = st.Size()
	e.blob = &blob{hostPath: hostPath, size: st.Size()}
	return t.put(cleanName(name), e)
}

// AddSymlink adds a symbolic link name -> target.
func (t *Tree) AddSymlink(name, target string, opts FileOptions) error {
	e := &entry{hdr: opts.header(name, tar.TypeSymlink, 0o777), origin: opts.Origin}
	e.hdr.Linkname = target
	return t.put(cleanName(name), e)
}

// Mkdir adds a directory (its parents are synthesised if missing).
func (t *Tree) Mkdir(name string, mode fs.FileMode, opts FileOptions) error {
	e := &entry{hdr: opts.header(name, tar.TypeDir, mode), origin: opts.Origin}
	return t.put(cleanName(name), e)
}
