package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A registry that serves a multi-platform index for a reference gets its
// index kept as a blob beside the linux/amd64 image, so that an archive can
// name the image by the digest the registry resolved (what containerd's
// CRI records for a pulled image). The index is not listed in the layout's
// index.json: only the linux/amd64 manifest's blobs are in the cache, and
// tools walking index.json would look for the other platforms.

// keepIndex stores the raw index desc came with, unless an intact copy is
// already in the cache.
func (c *Cache) keepIndex(desc *remote.Descriptor) error {
	if b, _ := c.lookup(desc.Digest); b != nil {
		return nil
	}
	_, err := c.store(bytes.NewReader(desc.Manifest), desc.Digest)
	return err
}

// openIndex reads the index rec names into img, checking its digest and
// that it lists img's manifest.
func (c *Cache) openIndex(img *Image, rec refRecord) error {
	d, err := v1.NewHash(rec.IndexDigest)
	if err != nil {
		return err
	}
	raw, err := c.readSmall(d)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("not in the cache")
	}
	if err != nil {
		return err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	mt := types.MediaType(rec.IndexMediaType)
	switch {
	case mt != "":
	case idx.MediaType != "": // a record written before media types were
		mt = idx.MediaType
	default:
		mt = types.OCIImageIndex
	}
	for _, m := range idx.Manifests {
		if m.Digest == img.Digest {
			img.IndexDigest, img.Index, img.IndexMediaType = d, raw, mt
			return nil
		}
	}
	return fmt.Errorf("does not list the %s manifest %s", Platform, img.Digest)
}

// readSmall returns the content of cache entry d, read into memory and
// verified; a corrupt entry is removed and reported with errCorrupt, a
// missing one with os.ErrNotExist.
func (c *Cache) readSmall(d v1.Hash) ([]byte, error) {
	p := filepath.Join(blobDir(c.opts.Dir), d.Hex)
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if got != d {
		return nil, c.removeCorrupt(p, d, got)
	}
	return raw, nil
}
