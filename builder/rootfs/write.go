package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// WriteOptions configures WriteTar.
type WriteOptions struct {
	// ModTime is the latest mtime in the stream (derive it from
	// SOURCE_DATE_EPOCH). Later or unset mtimes become ModTime. Required.
	ModTime time.Time
}

// WriteTar writes the tree as one normalised tar stream (see the package
// documentation). The same tree and options always give the same bytes.
func (t *Tree) WriteTar(w io.Writer, opts WriteOptions) error {
	if opts.ModTime.IsZero() {
		return errors.New("write rootfs tar: WriteOptions.ModTime is required")
	}
	mod := opts.ModTime.Truncate(time.Second)
	tw := tar.NewWriter(w)
	written := map[*blob]string{} // first path written for each content
	for _, name := range t.sortedNames() {
		e := t.lookup(name)
		hdr := normalize(name, e, mod)
		var src *blob
		if e.blob != nil {
			if first, ok := written[e.blob]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				written[e.blob] = hdr.Name
				src = e.blob
			}
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			return fmt.Errorf("write rootfs tar: %s: %w", name, err)
		}
		if src != nil {
			if err := copyBlob(tw, src); err != nil {
				return fmt.Errorf("write rootfs tar: %s from %s: %w", name, e.origin, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	return nil
}

// lookup returns the entry for name, or a synthesised directory for a
// parent that no layer provided.
func (t *Tree) lookup(name string) *entry {
	if e, ok := t.entries[name]; ok {
		return e
	}
	return &entry{hdr: tar.Header{Typeflag: tar.TypeDir, Mode: 0o755}, origin: "implicit"}
}

// sortedNames lists every path to write, implicit parents and the root
// included, parents before children.
func (t *Tree) sortedNames() []string {
	set := map[string]bool{".": true}
	for name := range t.entries {
		for p := name; !set[p]; p = path.Dir(p) {
			set[p] = true
		}
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	slices.SortFunc(names, comparePaths)
	return names
}

// comparePaths orders paths component by component ("a/b" < "a-b"), with
// the root "." first.
func comparePaths(a, b string) int {
	if a == b {
		return 0
	}
	if a == "." {
		return -1
	}
	if b == "." {
		return 1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// normalize builds the header written for name.
func normalize(name string, e *entry, mod time.Time) tar.Header {
	in := e.hdr
	h := tar.Header{
		Typeflag: in.Typeflag,
		Name:     name,
		Linkname: in.Linkname,
		Size:     0,
		Mode:     in.Mode & 0o7777,
		Uid:      in.Uid,
		Gid:      in.Gid,
		ModTime:  in.ModTime.Truncate(time.Second),
		Devmajor: in.Devmajor,
		Devminor: in.Devminor,
	}
	if h.ModTime.IsZero() || h.ModTime.After(mod) {
		h.ModTime = mod
	}
	switch h.Typeflag {
	case tar.TypeDir:
		h.Name = name + "/"
		if name == "." {
			h.Name = "./"
		}
	case tar.TypeReg:
		h.Size = e.blob.size
	}
	for k, v := range in.PAXRecords {
		if keepXattr(k) {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords[k] = v
		}
	}
	if h.PAXRecords != nil {
		h.Format = tar.FormatPAX
	}
	return h
}

// copyBlob writes exactly b.size bytes of content.
func copyBlob(w io.Writer, b *blob) error {
	var r io.Reader
	switch {
	case b.data != nil:
		r = bytes.NewReader(b.data)
	case b.file != nil:
		r = io.NewSectionReader(b.file, b.off, b.size)
	case b.hostPath != "":
		f, err := os.Open(b.hostPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil {
			return err
		} else if st.Size() != b.size {
			return fmt.Errorf("%s is %d bytes, was %d when added", b.hostPath, st.Size(), b.size)
		}
		r = f
	default:
		r = strings.NewReader("")
	}
	n, err := io.Copy(w, io.LimitReader(r, b.size))
	if err != nil {
		return err
	}
	if n != b.size {
		return fmt.Errorf("content is %d bytes, expected %d (changed since added?)", n, b.size)
	}
	return nil
}

// keptXattrs are the xattr namespaces written. system.* (POSIX ACLs) is
// dropped: squashfs cannot store it, and systemd-tmpfiles sets the ACLs it
// wants (e.g. on /var/log/journal) at boot.
var keptXattrs = []string{"SCHILY.xattr.security.", "SCHILY.xattr.trusted.", "SCHILY.xattr.user."}

func keepXattr(paxKey string) bool {
	for _, p := range keptXattrs {
		if strings.HasPrefix(paxKey, p) {
			return true
		}
	}
	return false
}
