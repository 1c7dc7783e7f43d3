package rootfs

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
)

// DirOptions configures AddDir.
type DirOptions struct {
	// Origin names the layer, e.g. "overlay:base".
	Origin string
	// KeepOwner keeps the host files' uid/gid; by default everything is
	// owned by root (0:0), as a checked-out overlay tree should be.
	KeepOwner bool
	// RefuseSymlinks makes a symbolic link in hostDir an error: for a tree
	// the builder made, whose files must be there by value (a link to a
	// build host path would dangle in the image).
	RefuseSymlinks bool
}

// AddDir adds the contents of hostDir below destPrefix ("" or "/" for the
// root), walking in lexical order. Directories, regular files and symbolic
// links are supported; files hard-linked to each other on the host stay hard
// links. Content is read from the host when the tar stream is written.
// Extended attributes of host files are not copied.
func (t *Tree) AddDir(hostDir, destPrefix string, opts DirOptions) error {
	type inode struct{ dev, ino uint64 }
	links := map[inode]*blob{}
	prefix := cleanName(destPrefix)
	return filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("add dir %s: %w", hostDir, err)
		}
		rel, err := filepath.Rel(hostDir, p)
		if err != nil {
			return fmt.Errorf("add dir %s: %w", hostDir, err)
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		if rel == "." && prefix == "." {
			return nil // keep the root's attributes from earlier layers
		}
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("add dir %s: %w", hostDir, err)
		}
		hdr := tar.Header{Name: name, Mode: tarMode(st.Mode()), ModTime: st.ModTime()}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && opts.KeepOwner {
			hdr.Uid, hdr.Gid = int(sys.Uid), int(sys.Gid)
		}
		e := &entry{origin: opts.Origin}
		switch {
		case st.Mode().IsDir():
			hdr.Typeflag = tar.TypeDir
		case st.Mode().IsRegular():
			hdr.Typeflag = tar.TypeReg
			hdr.Size = st.Size()
			e.blob = &blob{hostPath: p, size: st.Size()}
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
				key := inode{uint64(sys.Dev), sys.Ino}
				if b, ok := links[key]; ok {
					e.blob = b
				} else {
					links[key] = e.blob
				}
			}
		case st.Mode()&fs.ModeSymlink != 0 && opts.RefuseSymlinks:
			target, _ := os.Readlink(p)
			return fmt.Errorf("add dir %s: %s is a symbolic link (to %s), not the file itself", hostDir, p, target)
		case st.Mode()&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return fmt.Errorf("add dir %s: %w", hostDir, err)
			}
		default:
			return fmt.Errorf("add dir %s: %s: unsupported file type %s", hostDir, p, st.Mode().Type())
		}
		e.hdr = hdr
		return t.put(name, e)
	})
}
