package imageregistry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/imagestore"
)

// imageSource is a test double of the build cache as builder/imagestore
// reads it (imagestore.Source): it hands out, by reference, the images a
// test made, as cache.Image describes a pulled image (the linux/amd64
// image and, for a multi-platform index, the raw index). The archive is
// then written by the real imagestore.Write.
type imageSource map[string]*cache.Image

func (s imageSource) Image(_ context.Context, ref string) (*cache.Image, error) {
	ci, ok := s[ref]
	if !ok {
		return nil, fmt.Errorf("image source double: no image %s", ref)
	}
	return ci, nil
}

func (s imageSource) add(tb testing.TB, ref string, img v1.Image) v1.Hash {
	tb.Helper()
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	s[ref] = &cache.Image{Ref: ref, Digest: d, Image: img}
	return d
}

func (s imageSource) addIndex(tb testing.TB, ref string, idx v1.ImageIndex, amd64 v1.Image) v1.Hash {
	tb.Helper()
	raw, err := idx.RawManifest()
	if err != nil {
		tb.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	s.add(tb, ref, amd64)
	s[ref].IndexDigest, s[ref].Index, s[ref].IndexMediaType = d, raw, types.OCIImageIndex
	return d
}

// testImage is an image for linux/arch whose layers hold contents: the
// same arguments make the same image. docker makes it a Docker schema 2
// image, else an OCI one.
func testImage(tb testing.TB, docker bool, arch string, contents ...string) v1.Image {
	tb.Helper()
	mt, cmt, lmt := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCIUncompressedLayer
	if docker {
		mt, cmt, lmt = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerUncompressedLayer
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt), cmt)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: arch, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range contents {
		if img, err = mutate.AppendLayers(img, static.NewLayer([]byte(c), lmt)); err != nil {
			tb.Fatal(err)
		}
	}
	return img
}

// testPayload is a payload builder/imagestore wrote.
type testPayload struct {
	data  []byte
	index string // digest of its index.json
	// top is the digest each containerd name resolves to, amd64 the
	// linux/amd64 image of each.
	top   map[string]string
	amd64 map[string]v1.Image
	arm64 string // the multi-platform index's arm64 manifest, absent
}

// newPayload writes a payload of two OCI images sharing a layer, a Docker
// schema 2 image, a multi-platform index (amd64, arm64) and one of the
// OCI images again by digest, named on Docker Hub, quay.io and a registry
// with a port. fill sizes the layers: the same fill makes the same payload.
func newPayload(tb testing.TB, fill int) *testPayload {
	tb.Helper()
	layer := func(s string) string { return strings.Repeat(s, fill) }
	base := layer("base ")
	nginx := testImage(tb, false, "amd64", base, layer("nginx "))
	app := testImage(tb, false, "amd64", base, layer("app "))
	tool := testImage(tb, true, "amd64", layer("tool "))
	amd, arm := testImage(tb, false, "amd64", layer("multi-amd64 ")), testImage(tb, false, "arm64", layer("multi-arm64 "))
	multi := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})

	src := imageSource{}
	p := &testPayload{top: map[string]string{}, amd64: map[string]v1.Image{}}
	for _, i := range []struct {
		ref, name string
		img       v1.Image
	}{
		{"nginx:1.25", "docker.io/library/nginx:1.25", nginx},
		{"quay.io/team/app:2.0", "quay.io/team/app:2.0", app},
		{"registry.example:5000/vendor/tool:v7", "registry.example:5000/vendor/tool:v7", tool},
	} {
		p.top[i.name] = src.add(tb, i.ref, i.img).String()
		p.amd64[i.name] = i.img
	}
	p.top["docker.io/library/multi:3.0"] = src.addIndex(tb, "multi:3.0", multi, amd).String()
	p.amd64["docker.io/library/multi:3.0"] = amd
	appDigest := p.top["quay.io/team/app:2.0"]
	src.add(tb, "quay.io/team/app@"+appDigest, app)
	byDigest := "quay.io/team/app:sha256-" + strings.TrimPrefix(appDigest, "sha256:")
	p.top[byDigest], p.amd64[byDigest] = appDigest, app
	armDigest, err := arm.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	p.arm64 = armDigest.String()

	store, err := imagestore.New(imagestore.Options{Cache: src})
	if err != nil {
		tb.Fatal(err)
	}
	imgs, err := store.Pull(context.Background(), []string{"nginx:1.25", "quay.io/team/app:2.0",
		"registry.example:5000/vendor/tool:v7", "multi:3.0", "quay.io/team/app@" + appDigest})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := imagestore.Write(&buf, imgs, imagestore.WriteOptions{}); err != nil {
		tb.Fatal(err)
	}
	p.data = buf.Bytes()
	p.index = sha256Digest(entryData(tb, readEntries(tb, p.data), indexName))
	return p
}

// entry is one tar entry, to build payloads with.
type entry struct {
	hdr  tar.Header
	data []byte
}

func readEntries(tb testing.TB, data []byte) []entry {
	tb.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, entry{*hdr, b})
	}
}

// writeEntries writes entries as a tar, each header's size that of its
// data unless the header is a link or directory.
func writeEntries(tb testing.TB, entries []entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func entryData(tb testing.TB, entries []entry, name string) []byte {
	tb.Helper()
	for _, e := range entries {
		if e.hdr.Name == name {
			return e.data
		}
	}
	tb.Fatalf("no tar entry %s", name)
	return nil
}

// anyIndex accepts any index.json, for tests that change it.
func anyIndex(string) error { return nil }
