package cache

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// helmArtifact is shaped like a Helm chart pushed to a registry: a Helm
// config and one chart-content layer.
func helmArtifact(t *testing.T) (v1.Image, v1.Layer) {
	t.Helper()
	layer := static.NewLayer([]byte("chart archive bytes"), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
	return img, layer
}

// TestLayoutListsArtifactsWithoutPlatform checks index.json lists a
// container image as linux/amd64 and a Helm chart as an artifact with no
// platform, and that both read back from the cache.
func TestLayoutListsArtifactsWithoutPlatform(t *testing.T) {
	reg := newRegistry(t)
	img := randomImage(t)
	chart, layer := helmArtifact(t)
	testfixture.PushImage(t, reg.host+"/platform/minio:1.0", img)
	testfixture.PushImage(t, reg.host+"/charts/app:1.0.0", chart)
	dir := t.TempDir()
	c := newCache(t, dir, false)
	for _, ref := range []string{reg.host + "/platform/minio:1.0", reg.host + "/charts/app:1.0.0"} {
		if _, err := c.Image(context.Background(), ref); err != nil {
			t.Fatal(err)
		}
	}
	got, err := newCache(t, dir, true).Image(context.Background(), reg.host+"/charts/app:1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.Blob(testfixture.Digest(t, layer)); err != nil || readAll(t, b) != "chart archive bytes" {
		t.Errorf("chart layer not in the cache: %v", err)
	}

	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	want := map[v1.Hash]string{
		testfixture.Digest(t, img):   "platform linux/amd64",
		testfixture.Digest(t, chart): "artifact application/vnd.cncf.helm.config.v1+json",
	}
	if got.Digest != testfixture.Digest(t, chart) {
		t.Errorf("chart read back as %s, want %s", got.Digest, testfixture.Digest(t, chart))
	}
	if len(idx.Manifests) != len(want) {
		t.Fatalf("index.json lists %d manifests, want %d:\n%s", len(idx.Manifests), len(want), raw)
	}
	for _, d := range idx.Manifests {
		var kind string
		switch {
		case d.Platform != nil && d.ArtifactType == "":
			kind = "platform " + d.Platform.String()
		case d.Platform == nil:
			kind = "artifact " + d.ArtifactType
		}
		if kind != want[d.Digest] {
			t.Errorf("index.json lists %s as %q, want %q", d.Digest, kind, want[d.Digest])
		}
	}
}
