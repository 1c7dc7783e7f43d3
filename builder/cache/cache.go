// Package cache owns the build's content-addressed store: every downloaded
// input (release assets, charts, container images) lands once under
// <dir>/blobs/sha256/<hex> and is found again by its digest, so a second
// build needs no network and an offline build fails naming what is missing.
//
// The directory is also an OCI image layout (index.json, oci-layout): image
// layers share the one blob store, so a layer used by many images is stored
// once. refs/ remembers which digest each image reference resolved to (and
// the multi-platform index the registry served, kept as a blob too); urls/
// remembers the digest of each unpinned URL's content (Cache.Unpinned,
// Cache.Current).
//
// What a lock pins is found with no request at all, online too: Cache.URL
// and Cache.Blob by digest, Cache.PinnedImage by manifest (and index)
// digest. Registry requests go to the operator's mirrors when set
// (Options.RegistryMirrors); images keep their upstream names.
//
// Every read verifies: a hit is hashed before use, and Blob.Open checks the
// digest again as the content is read. A corrupt entry is removed and
// fetched again, or, offline, reported as an error. The one exception is
// the layers of an image a lock pins (PinnedImage): they are checked by
// size only, so that a rebuild that reuses its payload does not hash
// gigabytes it never reads; whoever reads them checks their digests
// (imagestore.Write does, for every blob).
//
// payloads/ keeps written image payloads for reuse by key (Cache.Payload).
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ml-appliance/appliance/builder/newdir"
	"github.com/ml-appliance/appliance/builder/progress"
)

// Options configures a Cache.
type Options struct {
	// Dir is the cache directory; created if missing.
	Dir string
	// Offline forbids network access: a miss is an error.
	Offline bool
	// HTTPClient fetches URLs and talks to registries; http.DefaultClient
	// when nil.
	HTTPClient *http.Client
	// Attempts bounds tries per download and per registry request on
	// transient errors (network errors, HTTP 5xx and 429); 4 when 0.
	Attempts int
	// Backoff is the wait before the second try, doubled for each next
	// one; 1s when 0.
	Backoff time.Duration
	// Logger receives progress (fetches, retries); nil discards it.
	Logger *slog.Logger
	// Progress shows each URL download (bytes, rate); nil shows nothing.
	Progress *progress.Display
	// RegistryMirrors maps an upstream registry host, as an operator writes
	// it (docker.io, quay.io, ghcr.io, registry.k8s.io, host:port), to a
	// mirror "host[:port][/path prefix]" contacted instead of it: the same
	// repository path after the prefix, the same tag or digest. Images are
	// still recorded and returned under the upstream reference.
	RegistryMirrors map[string]string
}

// Cache is a content-addressed store of build inputs.
type Cache struct {
	opts    Options
	log     *slog.Logger
	mirrors map[string]mirror // by upstream registry as ggcr names it
	// created are the directories New made for Options.Dir.
	created newdir.Created
}

// New opens (creating if needed) the cache directory.
func New(opts Options) (*Cache, error) {
	if opts.Dir == "" {
		return nil, errors.New("cache: Options.Dir is required")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	mirrors, err := parseMirrors(opts.RegistryMirrors)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	created, err := newdir.MkdirAll(opts.Dir, 0o755)
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", opts.Dir, err)
	}
	for _, d := range skeleton(opts.Dir) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cache %s: %w", opts.Dir, err)
		}
	}
	return &Cache{opts: opts, log: log, mirrors: mirrors, created: created}, nil
}

// skeleton lists the directories of an empty cache, each after its parent.
func skeleton(dir string) []string {
	return []string{filepath.Join(dir, "blobs"), blobDir(dir), filepath.Join(dir, "tmp"), filepath.Join(dir, "refs"), filepath.Join(dir, "urls")}
}

// RemoveIfUnused removes the cache directory if New created it and nothing
// was stored in it since: a build that fails before fetching anything
// leaves no empty cache behind. A directory that was there before New, or
// holds anything, stays.
func (c *Cache) RemoveIfUnused() error {
	if len(c.created) == 0 {
		return nil
	}
	entries, err := os.ReadDir(c.opts.Dir)
	if err != nil {
		return fmt.Errorf("remove the unused cache %s: %w", c.opts.Dir, err)
	}
	dirs := skeleton(c.opts.Dir)
	if len(entries) > len(dirs)-1 { // blobs/sha256 is not an entry of Dir
		return nil
	}
	for _, d := range dirs {
		if d == filepath.Join(c.opts.Dir, "blobs") {
			continue // holds blobs/sha256
		}
		if names, err := os.ReadDir(d); err != nil || len(names) > 0 {
			return nil // holds something (or cannot tell): keep the cache
		}
	}
	for _, d := range slices.Backward(dirs) {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the unused cache %s: %w", c.opts.Dir, err)
		}
	}
	if err := c.created.RemoveEmpty(); err != nil {
		return fmt.Errorf("remove the unused cache %s: %w", c.opts.Dir, err)
	}
	return nil
}

func blobDir(dir string) string { return filepath.Join(dir, "blobs", "sha256") }

// Blob is one verified piece of content: a cache entry or a local file.
type Blob struct {
	path   string
	digest v1.Hash
	size   int64
}

// Digest is the content's sha256 digest.
func (b *Blob) Digest() v1.Hash { return b.digest }

// Size is the content's length in bytes.
func (b *Blob) Size() int64 { return b.size }

// Path is where the content is on disk (for tools that take a file name).
// Prefer Open, which verifies as it reads.
func (b *Blob) Path() string { return b.path }

// Open reads the content; the reader's last Read fails if the file no
// longer matches the digest.
func (b *Blob) Open() (io.ReadCloser, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.digest, err)
	}
	return &verifyReader{f: f, h: sha256.New(), want: b.digest, size: b.size}, nil
}

type verifyReader struct {
	f    *os.File
	h    hash.Hash
	n    int64
	want v1.Hash
	size int64
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		got := "sha256:" + hex.EncodeToString(v.h.Sum(nil))
		if got != v.want.String() || v.n != v.size {
			return n, fmt.Errorf("read %s: content changed on disk (now %s, %d bytes)", v.f.Name(), got, v.n)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.f.Close() }

// File hashes a local file, used in place.
func (c *Cache) File(path string) (*Blob, error) {
	d, n, err := hashFile(path)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", path, err)
	}
	return &Blob{path: path, digest: d, size: n}, nil
}

func hashFile(path string) (v1.Hash, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, n, nil
}

// errCorrupt marks a cache entry whose content does not match its name.
var errCorrupt = errors.New("corrupt cache entry")

// ErrNotCached marks a digest the cache does not hold (Cache.Blob).
var ErrNotCached = errors.New("not in the cache")

// Blob returns the verified cache entry for digest d, without any network
// request, online or offline. A miss is an error wrapping ErrNotCached; so
// is a corrupt entry, which is removed (the error says so).
func (c *Cache) Blob(d v1.Hash) (*Blob, error) {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 {
		return nil, fmt.Errorf("blob %q: not a sha256 digest", d)
	}
	b, err := c.lookup(d)
	switch {
	case b != nil:
		return b, nil
	case errors.Is(err, errCorrupt):
		return nil, fmt.Errorf("blob %s: %w: %w", d, ErrNotCached, err)
	case err != nil:
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return nil, fmt.Errorf("blob %s: %w", d, ErrNotCached)
}

// lookup returns the verified entry for d, (nil, nil) on a miss. A corrupt
// entry is removed and reported with errCorrupt.
func (c *Cache) lookup(d v1.Hash) (*Blob, error) {
	p := filepath.Join(blobDir(c.opts.Dir), d.Hex)
	got, n, err := hashFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cache entry %s: %w", d, err)
	}
	if got != d {
		return nil, c.removeCorrupt(p, d, got)
	}
	return &Blob{path: p, digest: d, size: n}, nil
}

// removeCorrupt removes entry p, named d but holding got, and returns the
// errCorrupt error reporting it.
func (c *Cache) removeCorrupt(p string, d, got v1.Hash) error {
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove corrupt cache entry %s: %w", d, err)
	}
	c.log.Warn("removed corrupt cache entry", "digest", d.String(), "actual", got.String())
	return fmt.Errorf("%w %s (content is %s): removed", errCorrupt, d, got)
}

// store copies r into the cache under its digest, writing a temp file and
// renaming it only if the content matches want (when want is set).
func (c *Cache) store(r io.Reader, want v1.Hash) (*Blob, error) {
	tmp, err := os.CreateTemp(filepath.Join(c.opts.Dir, "tmp"), "blob-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if want.Hex != "" && got != want {
		return nil, &MismatchError{Want: want, Got: got}
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	p := filepath.Join(blobDir(c.opts.Dir), got.Hex)
	if err := os.Rename(tmp.Name(), p); err != nil {
		return nil, err
	}
	return &Blob{path: p, digest: got, size: n}, nil
}

// MismatchError is content whose digest is not the one it was fetched by
// (Cache.URL); it was not stored.
type MismatchError struct{ Want, Got v1.Hash }

func (e *MismatchError) Error() string {
	return fmt.Sprintf("sha256 mismatch: expected %s, got %s", e.Want, e.Got)
}
