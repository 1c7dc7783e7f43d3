package imagestore

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotations containerd's import reads from an OCI layout's index.json
// (containerd client/import.go, imageName: the containerd name first, the
// OCI ref name as a fallback) and its export writes
// (core/images/archive/exporter.go).
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// blob is one piece of content an archive holds. Small blobs (index,
// manifest, config) are held in raw; layers are streamed from open.
type blob struct {
	digest v1.Hash
	size   int64
	raw    []byte
	open   func() (io.ReadCloser, error)
	image  string // a name of an image the blob belongs to, for errors
}

// plan lists the archive's index.json entries (sorted by name) and its
// blobs (each once, sorted by digest).
func plan(images []Image) ([]v1.Descriptor, []*blob, error) {
	var descs []v1.Descriptor
	named := map[string]v1.Hash{}
	blobs := map[v1.Hash]*blob{}
	for _, img := range images {
		if img.image == nil {
			return nil, nil, fmt.Errorf("image %s: not pulled by a Store", img.Name)
		}
		top, err := topDescriptor(img)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", img.Name, err)
		}
		n, err := archiveName(img)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", img.Name, err)
		}
		if d, ok := named[n]; ok {
			if d != top.Digest {
				return nil, nil, fmt.Errorf("image %s is both %s and %s", n, d, top.Digest)
			}
		} else {
			named[n] = top.Digest
			desc := top
			desc.Annotations = map[string]string{AnnotationImageName: n, AnnotationRefName: ociRefName(n)}
			descs = append(descs, desc)
		}
		if err := addBlobs(blobs, img); err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", img.Name, err)
		}
	}
	slices.SortFunc(descs, func(a, b v1.Descriptor) int {
		return strings.Compare(a.Annotations[AnnotationImageName], b.Annotations[AnnotationImageName])
	})
	list := make([]*blob, 0, len(blobs))
	for _, b := range blobs {
		list = append(list, b)
	}
	slices.SortFunc(list, func(a, b *blob) int { return strings.Compare(a.digest.String(), b.digest.String()) })
	return descs, list, nil
}

// archiveName is the one name an image gets in the archive: its
// containerd name, which must carry a tag. K3s v1.36 imports an archive
// (pkg/agent/containerd/containerd.go, preloadFile) and then, for every
// image the import named, parses the name as a tagged reference
// (parseNamedTagged) to retag it and to label its content; a name without
// a tag fails that, and with it the whole archive: K3s logs the error,
// leaves the content labels the embedded registry needs unset and does not
// record the archive in its import cache (watcher.go, processImageEvent).
// For each tagged name K3s itself adds <repository>@<the name's target
// digest> (retagImages), the name containerd's CRI resolves a pod's
// image@<registry digest> to, so the archive does not list it.
//
// An image asked for by digest alone gets the tag "sha256-<hex>" of that
// digest, which must be the digest the registry resolved it to: that is
// the target K3s names <repository>@<digest>.
func archiveName(img Image) (string, error) {
	i := strings.LastIndex(img.Name, "@")
	if i < 0 {
		return img.Name, nil
	}
	repo, dgst := img.Name[:i], img.Name[i+1:]
	if dgst != img.RegistryDigest().String() {
		return "", fmt.Errorf("asked for by digest %s, but the registry resolved it to %s", dgst, img.RegistryDigest())
	}
	return repo + ":" + DigestTag(img.RegistryDigest()), nil
}

// DigestTag is the tag an image asked for by digest alone is named with in
// an archive: "sha256-<hex>" (a tag allows letters, digits, "_", "." and
// "-", up to 128 characters).
func DigestTag(d v1.Hash) string {
	return d.Algorithm + "-" + d.Hex
}

// ociRefName is what containerd's export writes as the OCI ref name of a
// tagged name: the tag (ociReferenceName in
// core/images/archive/reference.go).
func ociRefName(n string) string {
	return n[strings.LastIndex(n, ":")+1:]
}

// topDescriptor describes what the image's name points at: the index when
// the registry served one, else the linux/amd64 manifest.
func topDescriptor(img Image) (v1.Descriptor, error) {
	if img.IndexDigest.Hex != "" {
		return v1.Descriptor{MediaType: img.indexType, Digest: img.IndexDigest, Size: int64(len(img.index))}, nil
	}
	raw, err := img.image.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest %s: %w", img.Digest, err)
	}
	mt, err := img.image.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest %s: %w", img.Digest, err)
	}
	return v1.Descriptor{MediaType: mt, Digest: img.Digest, Size: int64(len(raw)),
		Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}, nil
}

// addBlobs adds the image's index (if any), linux/amd64 manifest, config
// and layers to blobs.
func addBlobs(blobs map[v1.Hash]*blob, img Image) error {
	add := func(b *blob) {
		if _, ok := blobs[b.digest]; !ok {
			b.image = img.Name
			blobs[b.digest] = b
		}
	}
	if img.IndexDigest.Hex != "" {
		add(&blob{digest: img.IndexDigest, size: int64(len(img.index)), raw: img.index})
	}
	rawManifest, err := img.image.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest %s: %w", img.Digest, err)
	}
	add(&blob{digest: img.Digest, size: int64(len(rawManifest)), raw: rawManifest})
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return fmt.Errorf("manifest %s: %w", img.Digest, err)
	}
	rawConfig, err := img.image.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	add(&blob{digest: m.Config.Digest, size: m.Config.Size, raw: rawConfig})
	for _, l := range m.Layers {
		image, d := img.image, l.Digest
		add(&blob{digest: d, size: l.Size, open: func() (io.ReadCloser, error) {
			layer, err := image.LayerByDigest(d)
			if err != nil {
				return nil, err
			}
			return layer.Compressed()
		}})
	}
	return nil
}
