// Package testpayload writes small image payloads for tests: the OCI image
// layout tar builder/imagestore writes (blobs/, blobs/sha256/<hex>,
// index.json naming each image by its tagged containerd name, oci-layout),
// with one tiny layer per image, and the descriptor (payload.ImagePayload)
// an OS image would carry for it. It uses the standard library only, so
// node-side tests need no builder code.
package testpayload

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Media types of what Write puts in the layout.
const (
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Payload is what Write made.
type Payload struct {
	// Path is the tar.
	Path string
	// Descriptor describes it as the OS image would.
	Descriptor payload.ImagePayload
	// Manifests maps each image name to its manifest's digest and bytes.
	Manifests map[string]Blob
}

// Blob is a blob's digest ("sha256:<hex>") and content.
type Blob struct {
	Digest  string
	Content []byte
}

// Write writes a payload of the given images (tagged containerd names such
// as docker.io/library/busybox:1.36) to dir/payload.tar.
func Write(t testing.TB, dir string, images ...string) Payload {
	t.Helper()
	blobs := map[string][]byte{}
	put := func(b []byte) descriptor {
		d := descriptor{Digest: digest(b), Size: int64(len(b))}
		blobs[d.Digest] = b
		return d
	}
	p := Payload{Path: filepath.Join(dir, "payload.tar"), Manifests: map[string]Blob{}}
	var index struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}
	index.SchemaVersion, index.MediaType = 2, mediaTypeIndex
	registries := map[string]bool{}
	for _, name := range images {
		layer := put(layerTar(t, name))
		layer.MediaType = mediaTypeLayer
		config := put(mustJSON(t, map[string]any{
			"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.Digest}},
		}))
		config.MediaType = mediaTypeConfig
		raw := mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeManifest, "config": config, "layers": []descriptor{layer},
		})
		m := put(raw)
		m.MediaType = MediaTypeManifest
		p.Manifests[name] = Blob{Digest: m.Digest, Content: raw}
		m.Annotations = map[string]string{
			"io.containerd.image.name":          name,
			"org.opencontainers.image.ref.name": name[strings.LastIndex(name, ":")+1:],
		}
		index.Manifests = append(index.Manifests, m)
		registries[name[:strings.Index(name, "/")]] = true
	}
	indexJSON := mustJSON(t, index)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		check(t, tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}))
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		writeFile(t, tw, "blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), blobs[d])
	}
	writeFile(t, tw, "index.json", indexJSON)
	writeFile(t, tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	check(t, tw.Close())
	check(t, os.WriteFile(p.Path, buf.Bytes(), 0o644))

	names := slices.Sorted(slices.Values(images))
	sum := sha256.Sum256(buf.Bytes())
	p.Descriptor = payload.ImagePayload{
		Format: payload.ImagePayloadFormat, Index: digest(indexJSON), SHA256: hex.EncodeToString(sum[:]),
		Size: int64(buf.Len()), Images: names, Registries: slices.Sorted(maps.Keys(registries)),
	}
	return p
}

// WriteDescriptor writes d as the OS image's descriptor under root.
func WriteDescriptor(t testing.TB, root string, d payload.ImagePayload) {
	t.Helper()
	p := filepath.Join(root, payload.ImagePayloadDescriptor)
	check(t, os.MkdirAll(filepath.Dir(p), 0o755))
	check(t, os.WriteFile(p, mustJSON(t, d), 0o644))
}

// layerTar is an uncompressed layer holding one file that names the image.
func layerTar(t testing.TB, name string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	writeFile(t, tw, "etc/image-name", []byte(name+"\n"))
	check(t, tw.Close())
	return b.Bytes()
}

func writeFile(t testing.TB, tw *tar.Writer, name string, content []byte) {
	check(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}))
	_, err := tw.Write(content)
	check(t, err)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	check(t, err)
	return b
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
