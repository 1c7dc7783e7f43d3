package imagestore

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/builder/progress"
)

// WriteOptions configures an archive.
type WriteOptions struct {
	// ModTime is every tar entry's mtime (derive it from
	// SOURCE_DATE_EPOCH); the Unix epoch when zero.
	ModTime time.Time
	// Progress counts the blobs and bytes written; nil counts nothing.
	Progress *progress.Task
}

// Write writes images as one OCI archive: an OCI image layout (oci-layout,
// index.json, blobs/sha256/...) in a tar with sorted entries, mtimes from
// opts and root owners. index.json lists each image once, under a tagged
// containerd name (see archiveName: K3s's import needs tags and adds
// repository@<registry digest> itself). A blob shared by several images is
// written once. Every blob's digest and
// size are checked as it is written; on a mismatch Write fails naming the
// blob, and what was written to w must be discarded.
//
// The caller decides how images are grouped into archives.
func Write(w io.Writer, images []Image, opts WriteOptions) error {
	descs, blobs, err := plan(images)
	if err != nil {
		return err
	}
	index, err := indexJSON(descs)
	if err != nil {
		return err
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	tw := &tarWriter{tw: tar.NewWriter(opts.Progress.Writer(w)), mtime: mtime.UTC().Truncate(time.Second)}
	if err := errors.Join(tw.dir("blobs/"), tw.dir("blobs/sha256/")); err != nil {
		return err
	}
	if err := tw.blobs(blobs, opts.Progress); err != nil {
		return err
	}
	if err := tw.file("index.json", index); err != nil {
		return err
	}
	if err := tw.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.tw.Close()
}

// ArchiveVersion changes whenever Write writes other bytes for the same
// images and WriteOptions.ModTime: with the sha256 of index.json and the
// mtime, it keys an archive kept for reuse (see Index).
const ArchiveVersion = 1

// Index returns the index.json Write would write for images, without
// reading any layer, and the containerd names it lists, sorted. Its
// sha256 identifies the archive's content: index.json names each image's
// manifest (or index) by digest, and those name their blobs by digest.
func Index(images []Image) (index []byte, names []string, err error) {
	descs, _, err := plan(images)
	if err != nil {
		return nil, nil, err
	}
	if index, err = indexJSON(descs); err != nil {
		return nil, nil, err
	}
	for _, d := range descs {
		names = append(names, d.Annotations[AnnotationImageName])
	}
	return index, names, nil
}

func indexJSON(descs []v1.Descriptor) ([]byte, error) {
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	return index, nil
}

// WriteFile writes the archive to a temp file beside path and renames it
// to path only when it is complete.
func WriteFile(path string, images []Image, opts WriteOptions) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = Write(tmp, images, opts)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	return nil
}

type tarWriter struct {
	tw    *tar.Writer
	mtime time.Time
}

func (t *tarWriter) header(name string, typ byte, mode, size int64) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: size,
		ModTime: t.mtime, Format: tar.FormatPAX})
}

func (t *tarWriter) dir(name string) error {
	if err := t.header(name, tar.TypeDir, 0o755, 0); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (t *tarWriter) file(name string, data []byte) error {
	if err := t.header(name, tar.TypeReg, 0o644, int64(len(data))); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := t.tw.Write(data); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// blobs writes each blob in order, its digest checked beside the copy
// (hashcopy.go), and stops at the first blob that fails. A digest mismatch
// is found some buffers after the blob was written, so blobs may stop a
// few blobs later, but it names the blob that failed first.
func (t *tarWriter) blobs(blobs []*blob, p *progress.Task) error {
	v := newVerifier()
	var err error
	for _, b := range blobs {
		if v.mismatched() {
			break
		}
		if err = t.blob(b, v); err != nil {
			err = blobError(b, err)
			break
		}
		p.Add(1, 0)
	}
	// A mismatch is in an earlier blob than err's: the verifier has seen
	// the end of no later one.
	if verr := v.finish(); verr != nil {
		return verr
	}
	return err
}

// blob writes b under blobs/sha256/, checking its size as the content
// passes and handing the content to v, which checks its digest beside the
// copy (hashcopy.go).
func (t *tarWriter) blob(b *blob, v *verifier) error {
	if b.digest.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest algorithm %q", b.digest.Algorithm)
	}
	var r io.Reader
	if b.raw != nil {
		r = bytes.NewReader(b.raw)
	} else {
		rc, err := b.open()
		if err != nil {
			return err
		}
		defer rc.Close()
		r = rc
	}
	if err := t.header("blobs/sha256/"+b.digest.Hex, tar.TypeReg, 0o644, b.size); err != nil {
		return err
	}
	n, err := v.copy(t.tw, r, b.size)
	if err != nil {
		return err
	}
	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	if n+extra != b.size {
		return &DamagedBlobError{Digest: b.digest, Detail: fmt.Sprintf("content is %d bytes, want %d", n+extra, b.size)}
	}
	v.end(b)
	return nil
}
