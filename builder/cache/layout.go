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

	"github.com/ml-appliance/appliance/builder/atomicfile"
)

// addToIndex lists desc in the OCI layout's index.json (once per digest,
// sorted by digest), writing oci-layout too when missing.
func (c *Cache) addToIndex(desc v1.Descriptor) error {
	layoutFile := filepath.Join(c.opts.Dir, "oci-layout")
	if _, err := os.Stat(layoutFile); errors.Is(err, os.ErrNotExist) {
		if err := atomicfile.Write(layoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
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
	return atomicfile.Write(indexFile, raw, 0o644)
}
