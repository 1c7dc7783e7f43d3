package imagestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

// fixture is an in-process registry on 127.0.0.1 holding two single-arch
// images that share a base layer and a multi-arch (amd64, arm64) index.
type fixture struct {
	host           string
	base           v1.Layer // shared by appA and appB
	appA, appB     v1.Image
	multi          v1.ImageIndex
	multiAMD, arm  v1.Image
	refA, refB     string // by tag
	refMulti       string // by tag
	refBByDigest   string
	cacheDir       string
	store          *Store
	registryClosed func()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	f := &fixture{host: strings.TrimPrefix(srv.URL, "http://"), registryClosed: srv.Close}
	f.base = layer(t, 256<<10)
	f.appA = image(t, "amd64", f.base, layer(t, 16<<10))
	f.appB = image(t, "amd64", f.base, layer(t, 16<<10))
	f.multiAMD = image(t, "amd64", layer(t, 32<<10))
	f.arm = image(t, "arm64", layer(t, 32<<10))
	f.multi = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: f.multiAMD, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: f.arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})

	f.refA = f.host + "/team/app-a:1.0"
	f.refB = f.host + "/team/app-b:2.0"
	f.refMulti = f.host + "/library/multi:3.0"
	testfixture.PushImage(t, f.refA, f.appA)
	testfixture.PushImage(t, f.refB, f.appB)
	f.refBByDigest = f.host + "/team/app-b@" + testfixture.Digest(t, f.appB).String()
	r, err := name.ParseReference(f.refMulti)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, f.multi); err != nil {
		t.Fatal(err)
	}

	f.cacheDir = t.TempDir()
	c, err := cache.New(cache.Options{Dir: f.cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if f.store, err = New(Options{Cache: c}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) pull(t *testing.T, refs ...string) []Image {
	t.Helper()
	imgs, err := f.store.Pull(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

func layer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// image is an OCI image for linux/arch made of layers.
func image(t *testing.T, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: arch,
		RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		t.Fatal(err)
	}
	return img
}

// blobsOf lists the digests of an image's manifest, config and layers.
func blobsOf(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{testfixture.Digest(t, img), m.Config.Digest}
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func sha256Of(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
