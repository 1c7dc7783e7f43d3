package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Platform is the only platform the appliance runs.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Image is a container image held in the cache.
type Image struct {
	// Ref is the reference as asked for.
	Ref string
	// Digest is the linux/amd64 image manifest's digest.
	Digest v1.Hash
	// IndexDigest is the digest the registry resolved Ref to when that is
	// a multi-platform index; zero otherwise.
	IndexDigest v1.Hash
	// Index is the raw index the registry served (read from the cache and
	// verified against IndexDigest; it lists Digest), IndexMediaType its
	// media type; both empty when the registry served an image manifest.
	// Only the linux/amd64 manifest's blobs are in the cache.
	Index          []byte
	IndexMediaType types.MediaType
	// Image reads the manifest, config and layers from the cache.
	Image v1.Image
}

// refRecord remembers what a reference resolved to, for offline builds.
type refRecord struct {
	Ref            string `json:"ref"`
	Digest         string `json:"digest"`
	IndexDigest    string `json:"indexDigest,omitempty"`
	IndexMediaType string `json:"indexMediaType,omitempty"`
}

// Image returns the linux/amd64 image ref names. Online, the registry (or
// its mirror, Options.RegistryMirrors) resolves ref (a tag may have moved)
// and only missing or corrupt blobs are downloaded; offline, the digest
// recorded when ref was last pulled is used. A pinned rebuild uses
// PinnedImage, which needs no request when the cache holds the image.
func (c *Cache) Image(ctx context.Context, ref string) (*Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if c.opts.Offline {
		rec, err := c.readRef(ref)
		if err != nil {
			return nil, fmt.Errorf("offline: image %s is not in the cache", ref)
		}
		d, err := v1.NewHash(rec.Digest)
		if err != nil {
			return nil, fmt.Errorf("offline: image %s: %w", ref, err)
		}
		if ok, err := c.haveImage(d); err != nil {
			return nil, fmt.Errorf("offline: image %s (%s): %w", ref, d, err)
		} else if !ok {
			return nil, fmt.Errorf("offline: image %s (%s) is not in the cache", ref, d)
		}
		img, err := c.openImage(rec)
		if err != nil {
			return nil, fmt.Errorf("offline: %w", err)
		}
		return img, nil
	}
	return c.pull(ctx, ref, r, nil)
}

// pull resolves r at its registry (or the registry's mirror), stores the
// linux/amd64 image's missing or corrupt blobs and records ref as resolved
// to it. pin, when set, is the manifest the registry must give.
func (c *Cache) pull(ctx context.Context, ref string, r name.Reference, pin *Pin) (*Image, error) {
	fetch, where := c.contact(ref, r)
	desc, err := remote.Get(fetch, c.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", where, err)
	}
	img, err := desc.Image() // picks linux/amd64 from an index
	if err != nil {
		return nil, fmt.Errorf("image %s: %s: %w", where, Platform, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", where, err)
	}
	if pin != nil && d != pin.Digest {
		return nil, fmt.Errorf("image %s: %s gives %s manifest %s, the lock pins %s",
			ref, fetch, Platform, d, pin.Digest)
	}
	rec := refRecord{Ref: ref, Digest: d.String()}
	if desc.MediaType.IsIndex() {
		rec.IndexDigest, rec.IndexMediaType = desc.Digest.String(), string(desc.MediaType)
		if err := c.keepIndex(desc); err != nil {
			return nil, fmt.Errorf("image %s: index %s: %w", where, desc.Digest, err)
		}
	}
	ok, err := c.haveImage(d)
	if err != nil && !errors.Is(err, errCorrupt) {
		return nil, fmt.Errorf("image %s: %w", where, err)
	}
	if !ok {
		c.log.Info("pull image", "ref", ref, "from", fetch.String(), "digest", d.String())
		if err := c.storeImage(img, d); err != nil {
			return nil, fmt.Errorf("pull image %s: %w", where, err)
		}
	}
	if err := c.writeRef(rec); err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return c.openImage(rec)
}

// remoteOptions are the options of every registry request: linux/amd64,
// the default keychain, the cache's retry rule and HTTP transport.
func (c *Cache) remoteOptions(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(Platform),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		// The same retry rule as URL downloads: Attempts tries, waiting
		// Backoff, then twice as long each time (on network errors, 5xx,
		// 408 and 429, go-containerregistry's transient set).
		remote.WithRetryBackoff(remote.Backoff{Duration: c.opts.Backoff, Factor: 2, Steps: c.opts.Attempts})}
	if tr := c.opts.HTTPClient.Transport; tr != nil {
		opts = append(opts, remote.WithTransport(tr))
	}
	return opts
}

// haveImage reports whether the manifest d and every blob it names are in
// the cache and intact. Corrupt blobs are removed (and errCorrupt returned).
func (c *Cache) haveImage(d v1.Hash) (bool, error) { return c.haveImageChecking(d, c.lookupDesc) }

// lookupDesc is lookup of the blob desc names.
func (c *Cache) lookupDesc(desc v1.Descriptor) (*Blob, error) { return c.lookup(desc.Digest) }

// haveImageChecking is haveImage with layers checked by layer; the
// manifest and config are always hashed.
func (c *Cache) haveImageChecking(d v1.Hash, layer func(v1.Descriptor) (*Blob, error)) (bool, error) {
	mb, err := c.lookup(d)
	if mb == nil || err != nil {
		return false, err
	}
	raw, err := os.ReadFile(mb.path)
	if err != nil {
		return false, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return false, fmt.Errorf("manifest %s: %w", d, err)
	}
	var corrupt error
	for i, desc := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		check := layer
		if i == 0 { // the config: small, always hashed
			check = c.lookupDesc
		}
		b, err := check(desc)
		switch {
		case errors.Is(err, errCorrupt):
			corrupt = errors.Join(corrupt, err)
		case err != nil:
			return false, err
		case b == nil:
			return false, nil
		}
	}
	return corrupt == nil, corrupt
}

// storeImage puts the manifest, config and layers of img into the blob
// store (each verified and renamed into place) and lists the manifest in
// index.json.
func (c *Cache) storeImage(img v1.Image, d v1.Hash) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	// By digest from the manifest: img.Layers() would fetch the config.
	for _, desc := range m.Layers {
		ld := desc.Digest
		if b, _ := c.lookup(ld); b != nil {
			continue
		}
		l, err := img.LayerByDigest(ld)
		if err != nil {
			return fmt.Errorf("layer %s: %w", ld, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", ld, err)
		}
		_, err = c.store(rc, ld)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", ld, err)
		}
	}
	cfgName := m.Config.Digest
	if b, _ := c.lookup(cfgName); b == nil {
		rawCfg, err := img.RawConfigFile()
		if err != nil {
			return err
		}
		if _, err := c.store(bytes.NewReader(rawCfg), cfgName); err != nil {
			return fmt.Errorf("config %s: %w", cfgName, err)
		}
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	if _, err := c.store(bytes.NewReader(rawManifest), d); err != nil {
		return fmt.Errorf("manifest %s: %w", d, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	return c.addToIndex(layoutDescriptor(m, mt, d, int64(len(rawManifest))))
}

// openImage reads the recorded image from the OCI layout.
func (c *Cache) openImage(rec refRecord) (*Image, error) {
	d, err := v1.NewHash(rec.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.Ref, err)
	}
	img, err := layout.Path(c.opts.Dir).Image(d)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.Ref, err)
	}
	out := &Image{Ref: rec.Ref, Digest: d, Image: img}
	if rec.IndexDigest != "" {
		if err := c.openIndex(out, rec); err != nil {
			return nil, fmt.Errorf("image %s: index %s: %w", rec.Ref, rec.IndexDigest, err)
		}
	}
	return out, nil
}

func (c *Cache) readRef(ref string) (refRecord, error) {
	var rec refRecord
	if err := readRecord(c.refPath(ref), &rec); err != nil {
		return rec, err
	}
	if rec.Ref != ref {
		return rec, fmt.Errorf("%s records %q, not %q", c.refPath(ref), rec.Ref, ref)
	}
	return rec, nil
}

func (c *Cache) writeRef(rec refRecord) error { return writeRecord(c.refPath(rec.Ref), rec) }
