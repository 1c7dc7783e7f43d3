// Package imagestore owns the container images an appliance carries: it
// resolves image references through the build cache (one content-addressed
// OCI blob store, so a layer shared by many images is stored once), names
// each image as containerd will (docker.io/library/nginx:1.25.4), and
// writes OCI archives that containerd, and so K3s, imports with the
// registry's digests intact.
//
// Usage:
//
//	s, _ := imagestore.New(imagestore.Options{Cache: c})
//	imgs, err := s.Pull(ctx, []string{"nginx:1.25.4", "quay.io/x/y@sha256:..."})
//	err = imagestore.WriteFile("platform.tar", imgs, imagestore.WriteOptions{ModTime: epoch})
//
// An archive is an OCI image layout in a tar with sorted entries and fixed
// mtimes and owners. When a registry served a multi-platform index, the
// index (which the cache keeps) goes in too, so the name@<index digest>
// K3s adds after importing still resolves, with only the linux/amd64
// manifest's blobs: K3s imports with WithSkipMissing. index.json names each
// image once, always with a tag (K3s's import fails an archive on a name
// without one). Every blob is digest-checked as it is written.
package imagestore

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/builder/cache"
)

// Source resolves an image reference to its linux/amd64 image held in the
// build cache; *cache.Cache is one.
type Source interface {
	Image(ctx context.Context, ref string) (*cache.Image, error)
}

// Options configures a Store.
type Options struct {
	// Cache pulls images into the cache's blob store (with the registry's
	// index for a multi-platform image). Required.
	Cache Source
}

// Store resolves image references into Images that archives are written
// from.
type Store struct {
	opts Options
}

// New checks opts and returns a Store.
func New(opts Options) (*Store, error) {
	if opts.Cache == nil {
		return nil, errors.New("imagestore: Options.Cache is required")
	}
	return &Store{opts: opts}, nil
}

// Image is one resolved image, ready to be written to an archive.
type Image struct {
	// Ref is the reference as asked for.
	Ref string
	// Name is the containerd name (see ContainerdName).
	Name string
	// Digest is the linux/amd64 image manifest's digest.
	Digest v1.Hash
	// IndexDigest is the digest of the multi-platform index the registry
	// served for Ref; zero when it served an image manifest.
	IndexDigest v1.Hash
	// Size is the bytes the image adds to an archive on its own: index
	// (if any), manifest, config and layers.
	Size int64

	image     v1.Image
	index     []byte          // raw index when IndexDigest is set
	indexType types.MediaType // its media type
}

// RegistryDigest is the digest the registry resolved Ref to: the index's
// when it served one, else the manifest's.
func (i Image) RegistryDigest() v1.Hash {
	if i.IndexDigest.Hex != "" {
		return i.IndexDigest
	}
	return i.Digest
}

// Pull resolves every reference through the cache, in order. It fails
// naming every reference that could not be resolved.
func (s *Store) Pull(ctx context.Context, refs []string) ([]Image, error) {
	var out []Image
	var errs []error
	for _, ref := range refs {
		img, err := s.pull(ctx, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, img)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) pull(ctx context.Context, ref string) (Image, error) {
	n, err := ContainerdName(ref)
	if err != nil {
		return Image{}, err
	}
	ci, err := s.opts.Cache.Image(ctx, ref)
	if err != nil {
		return Image{}, err
	}
	img := Image{Ref: ref, Name: n, Digest: ci.Digest, IndexDigest: ci.IndexDigest, image: ci.Image,
		index: ci.Index, indexType: ci.IndexMediaType}
	if img.Size, err = imageSize(img); err != nil {
		return Image{}, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// imageSize adds up the sizes the manifest and index declare.
func imageSize(img Image) (int64, error) {
	m, err := img.image.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.image.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(img.index)) + int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
