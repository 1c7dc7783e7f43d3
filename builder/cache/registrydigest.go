package cache

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Resolved is what a registry names a reference now.
type Resolved struct {
	// Digest is the manifest's or the multi-platform index's digest.
	Digest string
	// MediaType says which of the two it is.
	MediaType types.MediaType
}

// RegistryDigest asks the registry (or its mirror, Options.RegistryMirrors)
// what ref names now, downloading nothing and recording nothing: a HEAD
// request for the manifest, and a GET when the registry does not answer
// HEAD, as go-containerregistry's crane.Digest does (pkg/crane/digest.go,
// v0.22.1). A lock pin's registry digest is compared with it to tell a moved
// tag. Offline it is an error.
func (c *Cache) RegistryDigest(ctx context.Context, ref string) (Resolved, error) {
	if c.opts.Offline {
		return Resolved{}, fmt.Errorf("offline: image %s: the registry is not asked", ref)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return Resolved{}, fmt.Errorf("image %s: %w", ref, err)
	}
	fetch, where := c.contact(ref, r)
	opts := c.remoteOptions(ctx)
	desc, err := remote.Head(fetch, opts...)
	if err == nil {
		return Resolved{Digest: desc.Digest.String(), MediaType: desc.MediaType}, nil
	}
	c.log.Info("registry did not answer HEAD, asking with GET", "ref", where, "error", err.Error())
	got, err := remote.Get(fetch, opts...)
	if err != nil {
		return Resolved{}, fmt.Errorf("image %s: %w", where, err)
	}
	return Resolved{Digest: got.Digest.String(), MediaType: got.MediaType}, nil
}
