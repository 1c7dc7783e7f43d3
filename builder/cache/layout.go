package cache

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// addToIndex lists desc in the OCI layout's index.json (once per digest,
// sorted by digest), writing oci-layout too when missing.
func (c *Cache) addToIndex(desc v1.Descriptor) error {
	layoutFile := filepath.Join(c.opts.Dir, "oci-layout")
	if _, err := os.Stat(layoutFile); errors.Is(err, os.ErrNotExist) {
		if err := c.writeFileAtomic(layoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return err
		}
	}
	indexFile := filepath.Join(c.opts.Dir, "index.json")
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	if raw, err := os.ReadFile(indexFile); err == nil {
		if err := json.Unmarshal(raw, &index); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	index.Manifests = slices.DeleteFunc(index.Manifests, func(d v1.Descriptor) bool { return d.Digest == desc.Digest })
	index.Manifests = append(index.Manifests, desc)
	slices.SortFunc(index.Manifests, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	raw, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	return c.writeFileAtomic(indexFile, raw)
}

// writeFileAtomic writes data to a temp file in the cache and renames it
// to path.
func (c *Cache) writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Join(c.opts.Dir, "tmp"), "file-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
