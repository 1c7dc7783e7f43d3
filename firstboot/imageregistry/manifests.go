package imageregistry

import (
	"encoding/json"
	"fmt"
)

// The manifest and index media types containerd pulls (core/images
// mediatypes.go); a payload holds nothing else that index.json reaches.
const (
	mediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

func isIndexType(mt string) bool { return mt == mediaTypeOCIIndex || mt == mediaTypeDockerList }
func isManifestType(mt string) bool {
	return mt == mediaTypeOCIManifest || mt == mediaTypeDockerManifest
}

// maxIndexDepth bounds indexes nested in indexes.
const maxIndexDepth = 4

// descriptor is an OCI content descriptor, as far as a payload needs it.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// manifestJSON is an image manifest or an index (index.json is one too):
// which fields count depends on the media type.
type manifestJSON struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
	Config        *descriptor  `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// walker checks the manifests and indexes index.json reaches, each once,
// within a budget of bytes read.
type walker struct {
	l        *Layout
	budget   int64 // bytes of manifests still allowed
	maxBytes int64 // bytes of one manifest
}

// walk checks that the manifest or index d names is in the payload with
// d's digest, size and media type, and what it names in turn: an index's
// manifests that are present (at least one must be), a manifest's config
// and layers (all must be).
func (w *walker) walk(d descriptor, depth int) error {
	if err := w.l.present(d); err != nil {
		return err
	}
	if mt, ok := w.l.manifests[d.Digest]; ok {
		if mt != d.MediaType {
			return fmt.Errorf("%s is named both %s and %s", d.Digest, mt, d.MediaType)
		}
		return nil
	}
	if d.Size > w.budget {
		return fmt.Errorf("%s: manifests total more than %d bytes", d.Digest, w.budget)
	}
	w.budget -= d.Size
	raw, err := w.l.read(w.l.blobs[d.Digest], w.maxBytes)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	if got := sha256Digest(raw); got != d.Digest {
		return fmt.Errorf("%s: content has digest %s", d.Digest, got)
	}
	var m manifestJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	if m.SchemaVersion != 2 || (m.MediaType != "" && m.MediaType != d.MediaType) {
		return fmt.Errorf("%s: schemaVersion %d, mediaType %q, want 2 and %s", d.Digest, m.SchemaVersion, m.MediaType, d.MediaType)
	}
	w.l.manifests[d.Digest] = d.MediaType
	if isIndexType(d.MediaType) {
		return w.walkIndex(d, m, depth)
	}
	if m.Config == nil {
		return fmt.Errorf("manifest %s has no config", d.Digest)
	}
	for _, c := range append([]descriptor{*m.Config}, m.Layers...) {
		if err := w.l.present(c); err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
	}
	return nil
}

// walkIndex checks the manifests of index d that the payload holds: only
// the linux/amd64 image of a multi-platform index is in a payload.
func (w *walker) walkIndex(d descriptor, m manifestJSON, depth int) error {
	if depth >= maxIndexDepth {
		return fmt.Errorf("index %s: indexes nested more than %d deep", d.Digest, maxIndexDepth)
	}
	held := 0
	for _, c := range m.Manifests {
		if !isDigest(c.Digest) {
			return fmt.Errorf("index %s: digest %q is not sha256:<64 hex digits>", d.Digest, c.Digest)
		}
		if _, ok := w.l.blobs[c.Digest]; !ok {
			continue
		}
		if !isManifestType(c.MediaType) && !isIndexType(c.MediaType) {
			return fmt.Errorf("index %s: %s has media type %q", d.Digest, c.Digest, c.MediaType)
		}
		if err := w.walk(c, depth+1); err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}
		held++
	}
	if held == 0 {
		return fmt.Errorf("index %s: none of its %d manifests is in the payload", d.Digest, len(m.Manifests))
	}
	return nil
}

// present checks that the blob d names is in the payload with d's size.
func (l *Layout) present(d descriptor) error {
	if !isDigest(d.Digest) {
		return fmt.Errorf("digest %q is not sha256:<64 hex digits>", d.Digest)
	}
	s, ok := l.blobs[d.Digest]
	switch {
	case !ok:
		return fmt.Errorf("blob %s is not in the payload", d.Digest)
	case s.size != d.Size:
		return fmt.Errorf("blob %s is %d bytes, its descriptor says %d", d.Digest, s.size, d.Size)
	}
	return nil
}
