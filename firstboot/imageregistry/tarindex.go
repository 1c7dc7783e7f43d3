package imageregistry

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Names of a payload's entries (builder/imagestore archive.go, Write).
const (
	blobsDir     = "blobs"
	blobDir      = "blobs/sha256"
	indexName    = "index.json"
	ociLayout    = "oci-layout"
	blobPrefix   = blobDir + "/"
	digestPrefix = "sha256:"
)

// section is where an entry's content is in the tar.
type section struct{ off, size int64 }

// tarIndex is what the tar holds: every blob by digest ("sha256:<hex>")
// and where index.json and oci-layout are.
type tarIndex struct {
	blobs            map[string]section
	index, ociLayout *section
}

// readTar walks the tar's headers from offset 0 to its end-of-archive
// marker (or the end of size), seeking over each entry's content: Go's tar
// reader skips content by seeking when its reader can (archive/tar
// discard), so only the headers and one byte of each entry are read. Any
// entry that is not one a payload holds fails it.
func readTar(r io.ReaderAt, size int64, lim limits) (*tarIndex, error) {
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	t := &tarIndex{blobs: map[string]section{}}
	seen := map[string]bool{}
	var at int64 // where the next entry's first header block starts
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar entry at offset %d: %w", at, err)
		}
		if n >= lim.entries {
			return nil, fmt.Errorf("tar entry %q at offset %d: more than %d entries", hdr.Name, at, lim.entries)
		}
		// The tar reader has read the entry's headers and nothing more, so
		// its reader is at the content.
		off, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		if err := t.add(hdr, section{off: off, size: hdr.Size}, size, seen); err != nil {
			return nil, fmt.Errorf("tar entry %q at offset %d: %w", hdr.Name, at, err)
		}
		at = off + (hdr.Size+511)&^511
	}
	if t.index == nil {
		return nil, errors.New("no " + indexName)
	}
	if t.ociLayout == nil {
		return nil, errors.New("no " + ociLayout)
	}
	return t, nil
}

// add records one entry, or says why a payload has no such entry.
func (t *tarIndex) add(hdr *tar.Header, s section, size int64, seen map[string]bool) error {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return errors.New("a sparse file")
		}
	}
	name := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
	}
	if seen[name] {
		return errors.New("a second entry of that name")
	}
	seen[name] = true
	if s.size < 0 || s.size > size-s.off {
		return fmt.Errorf("content of %d bytes at offset %d ends past the payload's %d bytes", s.size, s.off, size)
	}
	switch {
	case name == blobsDir || name == blobDir:
		if hdr.Typeflag != tar.TypeDir || s.size != 0 {
			return fmt.Errorf("type %q of %d bytes, want an empty directory", hdr.Typeflag, s.size)
		}
	case name == indexName || name == ociLayout || strings.HasPrefix(name, blobPrefix):
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("type %q, want a regular file", hdr.Typeflag)
		}
	default:
		return errors.New("not an entry of an image payload")
	}
	switch name {
	case indexName:
		t.index = &s
	case ociLayout:
		t.ociLayout = &s
	case blobsDir, blobDir:
	default:
		hex := strings.TrimPrefix(name, blobPrefix)
		if !isHex64(hex) {
			return errors.New("a blob not named by 64 lower-case hex digits")
		}
		t.blobs[digestPrefix+hex] = s
	}
	return nil
}

// isHex64 says whether s is a SHA-256 in lower-case hex.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isDigest says whether s is a digest a payload can hold: sha256:<hex>.
func isDigest(s string) bool {
	hex, ok := strings.CutPrefix(s, digestPrefix)
	return ok && isHex64(hex)
}
