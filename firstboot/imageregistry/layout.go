package imageregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	"github.com/distribution/reference"
)

// annotationImageName is the annotation index.json names each image with
// (builder/imagestore AnnotationImageName; containerd's import reads it,
// client/import.go).
const annotationImageName = "io.containerd.image.name"

// limits bound what Open reads of a payload, however it was made.
type limits struct {
	entries       int   // tar entries
	images        int   // descriptors in index.json
	indexBytes    int64 // index.json
	manifestBytes int64 // one manifest or index
	allManifests  int64 // every manifest and index together
}

// defaultLimits are far above what a platform's payload needs (a few
// hundred blobs, an index.json of kilobytes, manifests of a few KiB) and
// far below what would make Open slow or big.
func defaultLimits() limits {
	return limits{
		entries:       1 << 16,
		images:        1 << 14,
		indexBytes:    16 << 20,
		manifestBytes: 4 << 20,
		allManifests:  64 << 20,
	}
}

// Layout is an opened payload: where each blob is, what each image name
// resolves to. Its methods are safe for concurrent use.
type Layout struct {
	r     io.ReaderAt
	blobs map[string]section
	// manifests holds the media type of every manifest and index that
	// index.json reaches and the payload holds, by digest.
	manifests map[string]string
	tags      map[imageKey]string // the digest each tagged name resolves to
	repos     map[repoKey]bool
	names     []string // the containerd names of index.json, sorted
	stats     counters
}

type repoKey struct{ registry, repository string }

type imageKey struct {
	repoKey
	tag string
}

// Open indexes the payload tar of size bytes that r reads, checks that
// its index.json has the digest wantIndex ("sha256:<hex>") and checks
// every image it lists (see the package doc). r must allow concurrent
// ReadAt calls (an *os.File does) and must stay open while the Layout
// serves.
func Open(r io.ReaderAt, size int64, wantIndex string) (*Layout, error) {
	if !isDigest(wantIndex) {
		return nil, fmt.Errorf("image payload: index digest %q is not sha256:<64 hex digits>", wantIndex)
	}
	l, err := open(r, size, func(got string) error {
		if got != wantIndex {
			return fmt.Errorf("%s is %s, want %s", indexName, got, wantIndex)
		}
		return nil
	}, defaultLimits())
	if err != nil {
		return nil, fmt.Errorf("image payload: %w", err)
	}
	return l, nil
}

// open is Open with the index check and the limits as parameters.
func open(r io.ReaderAt, size int64, checkIndex func(digest string) error, lim limits) (*Layout, error) {
	if size < 0 {
		return nil, fmt.Errorf("size %d", size)
	}
	t, err := readTar(r, size, lim)
	if err != nil {
		return nil, err
	}
	l := &Layout{r: r, blobs: t.blobs, manifests: map[string]string{},
		tags: map[imageKey]string{}, repos: map[repoKey]bool{}}
	if err := l.checkOCILayout(*t.ociLayout); err != nil {
		return nil, err
	}
	raw, err := l.read(*t.index, lim.indexBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", indexName, err)
	}
	if err := checkIndex(sha256Digest(raw)); err != nil {
		return nil, err
	}
	if err := l.addImages(raw, lim); err != nil {
		return nil, fmt.Errorf("%s: %w", indexName, err)
	}
	return l, nil
}

// checkOCILayout checks the oci-layout file names the layout version 1.0.0.
func (l *Layout) checkOCILayout(s section) error {
	raw, err := l.read(s, 4<<10)
	if err != nil {
		return fmt.Errorf("%s: %w", ociLayout, err)
	}
	var v struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("%s: %w", ociLayout, err)
	}
	if v.Version != "1.0.0" {
		return fmt.Errorf("%s: imageLayoutVersion %q, want 1.0.0", ociLayout, v.Version)
	}
	return nil
}

// addImages parses index.json and adds each image it lists, checking the
// manifests and indexes it reaches (manifests.go).
func (l *Layout) addImages(raw []byte, lim limits) error {
	var idx manifestJSON
	if err := json.Unmarshal(raw, &idx); err != nil {
		return err
	}
	if idx.SchemaVersion != 2 || (idx.MediaType != "" && idx.MediaType != mediaTypeOCIIndex) {
		return fmt.Errorf("schemaVersion %d, mediaType %q: not an OCI image index", idx.SchemaVersion, idx.MediaType)
	}
	if len(idx.Manifests) > lim.images {
		return fmt.Errorf("%d images, more than %d", len(idx.Manifests), lim.images)
	}
	w := &walker{l: l, budget: lim.allManifests, maxBytes: lim.manifestBytes}
	for i, d := range idx.Manifests {
		name := d.Annotations[annotationImageName]
		if err := l.addImage(name, d, w); err != nil {
			return fmt.Errorf("image %d (%q): %w", i, name, err)
		}
	}
	slices.Sort(l.names)
	return nil
}

// addImage adds one index.json entry: its containerd name, which must be
// a full, tagged reference, and the manifest or index it points at.
func (l *Layout) addImage(name string, d descriptor, w *walker) error {
	ref, err := reference.ParseNamed(name)
	if err != nil {
		return fmt.Errorf("annotation %s: %w", annotationImageName, err)
	}
	tagged, ok := ref.(reference.NamedTagged)
	if _, digested := ref.(reference.Digested); !ok || digested {
		return fmt.Errorf("annotation %s: not a tagged name without a digest", annotationImageName)
	}
	if !isManifestType(d.MediaType) && !isIndexType(d.MediaType) {
		return fmt.Errorf("media type %q is neither an image manifest nor an index", d.MediaType)
	}
	if err := w.walk(d, 0); err != nil {
		return err
	}
	key := imageKey{repoKey{reference.Domain(ref), reference.Path(ref)}, tagged.Tag()}
	if _, dup := l.tags[key]; dup {
		return errors.New("listed twice")
	}
	l.tags[key] = d.Digest
	l.repos[key.repoKey] = true
	l.names = append(l.names, name)
	return nil
}

// read reads a section of at most limit bytes.
func (l *Layout) read(s section, limit int64) ([]byte, error) {
	if s.size > limit {
		return nil, fmt.Errorf("%d bytes, more than %d", s.size, limit)
	}
	buf := make([]byte, s.size)
	if _, err := io.ReadFull(io.NewSectionReader(l.r, s.off, s.size), buf); err != nil {
		return nil, fmt.Errorf("read %d bytes at offset %d: %w", s.size, s.off, err)
	}
	return buf, nil
}

// Images returns the containerd names of the payload's images, sorted.
func (l *Layout) Images() []string { return slices.Clone(l.names) }

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return digestPrefix + hex.EncodeToString(sum[:])
}

// counters back Stats.
type counters struct {
	requests, manifests, blobs, errors, bytes atomic.Uint64
}
