package k3simport

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/imagestore"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

// platform is what the builder puts in a platform archive, from an
// in-process registry on 127.0.0.1: two OCI images sharing a base layer,
// a Docker schema 2 image, a multi-arch (amd64, arm64) OCI index, and two
// of them asked for again by digest alone.
type platform struct {
	host    string
	refs    []string
	images  []imagestore.Image
	archive string    // the archive imagestore.WriteFile wrote
	arm64   []v1.Hash // blobs of the arm64 image, which the archive lacks
	// amd64 is, by reference, the linux/amd64 image's config digest (CRI's
	// image ID) and first layer.
	amd64 map[string]blobs
}

type blobs struct{ config, layer v1.Hash }

func blobsOf(t *testing.T, img v1.Image) blobs {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return blobs{config: m.Config.Digest, layer: m.Layers[0].Digest}
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	p := &platform{host: strings.TrimPrefix(srv.URL, "http://")}
	base := randomLayer(t, 256<<10)
	appA := ociImage(t, "amd64", base, randomLayer(t, 16<<10))
	appB := ociImage(t, "amd64", base, randomLayer(t, 16<<10))
	dockerImg, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	amd, arm := ociImage(t, "amd64", randomLayer(t, 32<<10)), ociImage(t, "arm64", randomLayer(t, 32<<10))
	multi := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})

	testfixture.PushImage(t, p.host+"/team/app-a:1.0", appA)
	testfixture.PushImage(t, p.host+"/team/app-b:2.0", appB)
	testfixture.PushImage(t, p.host+"/vendor/tool:v7", dockerImg)
	testfixture.PushIndex(t, p.host+"/library/multi:3.0", multi)
	p.refs = []string{
		p.host + "/team/app-a:1.0",
		p.host + "/team/app-b:2.0",
		p.host + "/vendor/tool:v7",
		p.host + "/library/multi:3.0",
		p.host + "/team/app-b@" + testfixture.Digest(t, appB).String(),
		p.host + "/library/multi@" + testfixture.Digest(t, multi).String(),
	}
	p.amd64 = map[string]blobs{}
	for i, img := range []v1.Image{appA, appB, dockerImg, amd, appB, amd} {
		p.amd64[p.refs[i]] = blobsOf(t, img)
	}
	m, err := arm.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	p.arm64 = []v1.Hash{testfixture.Digest(t, arm), m.Config.Digest, m.Layers[0].Digest}

	c, err := cache.New(cache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := imagestore.New(imagestore.Options{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if p.images, err = store.Pull(context.Background(), p.refs); err != nil {
		t.Fatal(err)
	}
	p.archive = filepath.Join(t.TempDir(), "appliance-platform.tar")
	if err := imagestore.WriteFile(p.archive, p.images, imagestore.WriteOptions{ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomLayer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ociImage is an OCI image for linux/arch made of layers.
func ociImage(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: arch, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		t.Fatal(err)
	}
	return img
}

// withIndex copies the archive at src to dst with its index.json changed
// by edit.
func withIndex(t *testing.T, src, dst string, edit func(*v1.IndexManifest)) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "index.json" {
			var idx v1.IndexManifest
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			edit(&idx)
			if data, err = json.Marshal(idx); err != nil {
				t.Fatal(err)
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
