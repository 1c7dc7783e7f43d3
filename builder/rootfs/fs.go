package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// Compile-time checks of the io/fs interfaces a Tree implements.
var (
	_ fs.StatFS     = (*Tree)(nil)
	_ fs.ReadDirFS  = (*Tree)(nil)
	_ fs.ReadLinkFS = (*Tree)(nil)
)

// maxLinkHops bounds symlink resolution, as Linux's MAXSYMLINKS does.
const maxLinkHops = 40

// dirIndex lists directories for io/fs; implicit parents are included.
type dirIndex struct {
	exists   map[string]bool
	children map[string][]string // sorted base names
}

func (t *Tree) dirs() *dirIndex {
	if t.index != nil {
		return t.index
	}
	idx := &dirIndex{exists: map[string]bool{}, children: map[string][]string{}}
	for _, name := range t.sortedNames() {
		idx.exists[name] = true
		if name != "." {
			dir := path.Dir(name)
			idx.children[dir] = append(idx.children[dir], path.Base(name))
		}
	}
	t.index = idx
	return idx
}

// resolve walks name inside the tree, following symbolic links in every
// component but the last (and in the last too when follow is set). Absolute
// link targets start at the tree root; ".." never leaves it.
func (t *Tree) resolve(op, name string, follow bool) (string, *entry, error) {
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	idx := t.dirs()
	pending := strings.Split(name, "/")
	var cur []string
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := path.Join(append(cur, c)...)
		if !idx.exists[next] {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		e := t.lookup(next)
		if e.hdr.Typeflag == tar.TypeSymlink && (len(pending) > 0 || follow) {
			if hops++; hops > maxLinkHops {
				return "", nil, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			if strings.HasPrefix(e.hdr.Linkname, "/") {
				cur = nil
			}
			pending = append(strings.Split(e.hdr.Linkname, "/"), pending...)
			continue
		}
		if len(pending) > 0 && e.hdr.Typeflag != tar.TypeDir {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%s is not a directory", next)}
		}
		cur = append(cur, c)
	}
	p := "."
	if len(cur) > 0 {
		p = path.Join(cur...)
	}
	return p, t.lookup(p), nil
}

// Open opens name, following symbolic links inside the tree.
func (t *Tree) Open(name string) (fs.File, error) {
	p, e, err := t.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	fi := newInfo(path.Base(name), e)
	switch e.hdr.Typeflag {
	case tar.TypeDir:
		return &dirFile{info: fi, tree: t, dir: p}, nil
	case tar.TypeReg:
		r, c, err := openBlob(e.blob)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &regFile{info: fi, r: r, closer: c}, nil
	default:
		return &regFile{info: fi, r: io.NewSectionReader(bytes.NewReader(nil), 0, 0)}, nil
	}
}

// Stat describes name, following symbolic links.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	_, e, err := t.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return newInfo(path.Base(name), e), nil
}

// Lstat describes name without following a final symbolic link.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	_, e, err := t.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return newInfo(path.Base(name), e), nil
}

// ReadLink returns the target of the symbolic link name.
func (t *Tree) ReadLink(name string) (string, error) {
	_, e, err := t.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if e.hdr.Typeflag != tar.TypeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return e.hdr.Linkname, nil
}

// ReadDir lists the directory name, sorted by file name.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	p, e, err := t.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if e.hdr.Typeflag != tar.TypeDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return t.dirEntries(p), nil
}

func (t *Tree) dirEntries(dir string) []fs.DirEntry {
	names := t.dirs().children[dir]
	out := make([]fs.DirEntry, len(names))
	for i, n := range names {
		out[i] = fs.FileInfoToDirEntry(newInfo(n, t.lookup(path.Join(dir, n))))
	}
	return out
}

func openBlob(b *blob) (io.ReaderAt, io.Closer, error) {
	switch {
	case b.data != nil:
		return bytes.NewReader(b.data), nil, nil
	case b.file != nil:
		return io.NewSectionReader(b.file, b.off, b.size), nil, nil
	case b.hostPath != "":
		f, err := os.Open(b.hostPath)
		if err != nil {
			return nil, nil, err
		}
		return f, f, nil
	}
	return bytes.NewReader(nil), nil, nil
}

// info is the fs.FileInfo of an entry.
type info struct {
	name string
	hdr  tar.Header
	size int64
}

func newInfo(name string, e *entry) *info {
	fi := &info{name: name, hdr: e.hdr}
	if e.blob != nil {
		fi.size = e.blob.size
	}
	return fi
}

func (fi *info) Name() string       { return fi.name }
func (fi *info) Size() int64        { return fi.size }
func (fi *info) Mode() fs.FileMode  { return fi.hdr.FileInfo().Mode() }
func (fi *info) ModTime() time.Time { return fi.hdr.ModTime }
func (fi *info) IsDir() bool        { return fi.hdr.Typeflag == tar.TypeDir }
func (fi *info) Sys() any           { return &fi.hdr }

// regFile is an open regular file (or an empty reader for special files).
type regFile struct {
	info   *info
	r      io.ReaderAt
	off    int64
	closer io.Closer
}

func (f *regFile) Stat() (fs.FileInfo, error) { return f.info, nil }

func (f *regFile) Read(p []byte) (int, error) {
	if f.off >= f.info.size {
		return 0, io.EOF
	}
	if rem := f.info.size - f.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := f.r.ReadAt(p, f.off)
	f.off += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

func (f *regFile) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

func (f *regFile) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// dirFile is an open directory.
type dirFile struct {
	info    *info
	tree    *Tree
	dir     string
	entries []fs.DirEntry
	read    bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.dir, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.entries, d.read = d.tree.dirEntries(d.dir), true
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}
