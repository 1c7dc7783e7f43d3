package imagestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ml-appliance/appliance/builder/atomicfile"
)

// index returns the raw multi-platform index d that ref resolved to, from
// the layout when it holds an intact copy, else from the registry (then
// kept in the layout). It checks that the index lists manifest.
func (s *Store) index(ctx context.Context, ref string, d, manifest v1.Hash) ([]byte, error) {
	path := filepath.Join(s.opts.LayoutDir, "blobs", d.Algorithm, d.Hex)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil && sha256Of(raw) == d:
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	case s.opts.Offline:
		return nil, fmt.Errorf("offline: not in the cache")
	default:
		if raw, err = s.fetchIndex(ctx, ref, d); err != nil {
			return nil, err
		}
		if err := writeAtomic(path, raw); err != nil {
			return nil, err
		}
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	for _, m := range idx.Manifests {
		if m.Digest == manifest {
			return raw, nil
		}
	}
	return nil, fmt.Errorf("does not list the linux/amd64 manifest %s", manifest)
}

// fetchIndex gets index d from ref's repository and checks its digest.
func (s *Store) fetchIndex(ctx context.Context, ref string, d v1.Hash) ([]byte, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r.Context().Digest(d.String()), remote.WithContext(ctx),
		remote.WithTransport(s.opts.Transport), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, err
	}
	if got := sha256Of(desc.Manifest); got != d {
		return nil, fmt.Errorf("registry served %s", got)
	}
	return desc.Manifest, nil
}

func sha256Of(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// writeAtomic writes data to a temp file beside path and renames it.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}
