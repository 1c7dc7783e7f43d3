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

// layoutDescriptor is how index.json lists manifest d (m, of media type mt
// and size bytes). go-containerregistry's layout reads a manifest only if
// index.json lists it, so every stored manifest is listed, but only a
// container image (an OCI or Docker image config) is listed as a
// linux/amd64 image: any other artifact, such as a Helm chart (config
// application/vnd.cncf.helm.config.v1+json), has no platform and carries
// its artifact type instead (as the OCI image spec says a descriptor of an
// artifact manifest does), so tools that walk index.json for images of a
// platform pass it by.
func layoutDescriptor(m *v1.Manifest, mt types.MediaType, d v1.Hash, size int64) v1.Descriptor {
	desc := v1.Descriptor{MediaType: mt, Digest: d, Size: size}
	switch {
	case m.Config.MediaType == types.OCIConfigJSON || m.Config.MediaType == types.DockerConfigJSON:
		desc.Platform = &Platform
	case m.ArtifactType != "":
		desc.ArtifactType = m.ArtifactType
	default:
		desc.ArtifactType = string(m.Config.MediaType)
	}
	return desc
}

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
