package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Pin is what a lock file knows of an image: the digests Image returned
// when the image was resolved.
type Pin struct {
	// Digest is the linux/amd64 image manifest's digest; required.
	Digest v1.Hash
	// IndexDigest is the multi-platform index the registry served for the
	// reference, zero when it served an image manifest.
	IndexDigest v1.Hash
	// HashLayers checks every cached layer by its digest (as Image does)
	// instead of its size: for an image whose reader does not check the
	// digests itself, such as the base OS that baseos.AddTo flattens
	// straight from the cache's OCI layout.
	HashLayers bool
}

// registryDigest is the digest the registry resolved the reference to.
func (p Pin) registryDigest() v1.Hash {
	if p.IndexDigest.Hex != "" {
		return p.IndexDigest
	}
	return p.Digest
}

// PinnedImage returns the image ref names as pin fixes it. When the cache
// holds pin's manifest and every blob it names (and the index, when
// IndexDigest is set), it makes no network request, online or offline.
// Otherwise, online, it fetches <repository>@<registry digest> (IndexDigest
// when set, else Digest; through the registry's mirror when one is set),
// stores it and checks the linux/amd64 manifest is pin.Digest: a tag moved
// since the lock was written does not change what is returned. Either way
// ref is recorded as resolved to pin, as Image records it.
func (c *Cache) PinnedImage(ctx context.Context, ref string, pin Pin) (*Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if pin.Digest.Hex == "" {
		return nil, fmt.Errorf("image %s: the pin has no manifest digest", ref)
	}
	ok, err := c.havePinned(pin)
	switch {
	case ok:
		return c.openPinned(ref, pin)
	case err != nil && !errors.Is(err, errCorrupt):
		return nil, fmt.Errorf("image %s (%s): %w", ref, pin.Digest, err)
	case c.opts.Offline && err != nil:
		return nil, fmt.Errorf("offline: image %s (%s): %w", ref, pin.Digest, err)
	case c.opts.Offline:
		return nil, fmt.Errorf("offline: image %s (%s) is not in the cache", ref, pin.Digest)
	}
	return c.pull(ctx, ref, r.Context().Digest(pin.registryDigest().String()), &pin)
}

// havePinned reports whether pin's image and index are in the cache and
// intact, its layers by their size alone (lookupSized) unless
// pin.HashLayers. Corrupt entries are removed (and errCorrupt returned).
func (c *Cache) havePinned(pin Pin) (bool, error) {
	layer := c.lookupSized
	if pin.HashLayers {
		layer = c.lookupDesc
	}
	ok, err := c.haveImageChecking(pin.Digest, layer)
	if !ok || err != nil || pin.IndexDigest.Hex == "" {
		return ok, err
	}
	b, err := c.lookup(pin.IndexDigest)
	if err != nil {
		return false, fmt.Errorf("index %s: %w", pin.IndexDigest, err)
	}
	return b != nil, nil
}

// openPinned reads pin's image from the cache and records ref as resolved
// to it.
func (c *Cache) openPinned(ref string, pin Pin) (*Image, error) {
	rec := refRecord{Ref: ref, Digest: pin.Digest.String()}
	if pin.IndexDigest.Hex != "" {
		rec.IndexDigest = pin.IndexDigest.String()
		// openIndex takes the media type from the index itself.
		if old, err := c.readRef(ref); err == nil && old.IndexDigest == rec.IndexDigest {
			rec.IndexMediaType = old.IndexMediaType
		}
	}
	img, err := c.openImage(rec)
	if err != nil {
		return nil, err
	}
	rec.IndexMediaType = string(img.IndexMediaType)
	if err := c.writeRef(rec); err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// lookupSized returns the entry for the blob desc names if it is there
// with desc's size, (nil, nil) if it is missing, without hashing it: a
// pinned image's layers are gigabytes, which a rebuild that reuses its
// payload never reads. Whoever reads a layer checks its digest as it
// reads (Blob.Open, and imagestore.Write for every blob it writes); an
// entry of the wrong size (truncated, say) is removed here, as corrupt.
func (c *Cache) lookupSized(desc v1.Descriptor) (*Blob, error) {
	p := filepath.Join(blobDir(c.opts.Dir), desc.Digest.Hex)
	info, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read cache entry %s: %w", desc.Digest, err)
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("cache entry %s is %s, not a regular file", desc.Digest, info.Mode().Type())
	case info.Size() != desc.Size:
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("remove corrupt cache entry %s: %w", desc.Digest, err)
		}
		c.log.Warn("removed corrupt cache entry", "digest", desc.Digest.String(), "size", info.Size(), "want", desc.Size)
		return nil, fmt.Errorf("%w %s (%d bytes, want %d): removed", errCorrupt, desc.Digest, info.Size(), desc.Size)
	}
	return &Blob{path: p, digest: desc.Digest, size: desc.Size}, nil
}
