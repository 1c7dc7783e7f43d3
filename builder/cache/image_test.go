package cache

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// testRegistry is an in-process registry on 127.0.0.1 counting blob GETs.
type testRegistry struct {
	host     string
	blobGets atomic.Int32
	requests atomic.Int32
	// busy is how many of the next manifest requests get 503.
	busy      atomic.Int32
	closeFunc func()
}

func newRegistry(t *testing.T) *testRegistry {
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.requests.Add(1)
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			tr.blobGets.Add(1)
		}
		if strings.Contains(r.URL.Path, "/manifests/") && tr.busy.Add(-1) >= 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	tr.closeFunc = srv.Close
	return tr
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImagePullThenOffline(t *testing.T) {
	reg := newRegistry(t)
	img := randomImage(t)
	ref := reg.host + "/platform/minio:1.0"
	testfixture.PushImage(t, ref, img)
	dir := t.TempDir()
	c := newCache(t, dir, false)

	got, err := c.Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := testfixture.Digest(t, img); got.Digest != want || got.IndexDigest != (v1.Hash{}) || got.Index != nil || got.IndexMediaType != "" {
		t.Errorf("digest = %s index %s (%d bytes, %q), want %s and no index", got.Digest, got.IndexDigest, len(got.Index), got.IndexMediaType, want)
	}
	if err := validate.Image(got.Image); err != nil {
		t.Errorf("cached image invalid: %v", err)
	}
	gets := reg.blobGets.Load()
	if gets != 3 {
		t.Errorf("blob GETs = %d, want 3 (config + 2 layers)", gets)
	}
	if _, err := c.Image(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if n := reg.blobGets.Load(); n != gets {
		t.Errorf("second pull fetched %d blobs, want none", n-gets)
	}

	reg.closeFunc() // offline needs no registry at all
	before := reg.requests.Load()
	off := newCache(t, dir, true)
	again, err := off.Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != got.Digest {
		t.Errorf("offline digest = %s, want %s", again.Digest, got.Digest)
	}
	if err := validate.Image(again.Image); err != nil {
		t.Errorf("offline image invalid: %v", err)
	}
	if reg.requests.Load() != before {
		t.Error("offline lookup talked to the registry")
	}
	miss := reg.host + "/platform/minio:2.0"
	if _, err := off.Image(context.Background(), miss); err == nil || err.Error() != "offline: image "+miss+" is not in the cache" {
		t.Errorf("offline miss: err = %v", err)
	}
}

// indexFixture pushes a linux/arm64 + linux/amd64 index and returns its
// reference, the index and the amd64 image.
func indexFixture(t *testing.T, reg *testRegistry, repo string) (string, v1.ImageIndex, v1.Image) {
	t.Helper()
	arm, amd := randomImage(t), randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	ref := reg.host + "/platform/" + repo
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	return ref, idx, amd
}

func TestImagePicksAmd64FromIndex(t *testing.T) {
	reg := newRegistry(t)
	ref, idx, amd := indexFixture(t, reg, "mlflow:2.9")
	rawIdx, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, err := newCache(t, dir, false).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != testfixture.Digest(t, amd) || got.IndexDigest != testfixture.Digest(t, idx) {
		t.Errorf("digest %s index %s, want amd64 %s in index %s", got.Digest, got.IndexDigest, testfixture.Digest(t, amd), testfixture.Digest(t, idx))
	}
	if string(got.Index) != string(rawIdx) || got.IndexMediaType != types.OCIImageIndex {
		t.Errorf("index %q (%s), want the registry's %q (%s)", got.Index, got.IndexMediaType, rawIdx, types.OCIImageIndex)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	arm := m.Manifests[0].Digest
	armImg, err := idx.Image(arm)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(blobDigests(t, armImg), arm) {
		if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d.Hex)); !os.IsNotExist(err) {
			t.Errorf("arm64 blob %s stored: %v", d, err)
		}
	}

	reg.closeFunc() // offline, the index comes from the cache
	off, err := newCache(t, dir, true).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if off.IndexDigest != got.IndexDigest || string(off.Index) != string(rawIdx) || off.IndexMediaType != got.IndexMediaType {
		t.Errorf("offline index %s %q (%s), want %s %q (%s)", off.IndexDigest, off.Index, off.IndexMediaType, got.IndexDigest, rawIdx, got.IndexMediaType)
	}
}

// blobDigests lists an image's config and layer digests.
func blobDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{m.Config.Digest}
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func TestImageCorruptIndex(t *testing.T) {
	reg := newRegistry(t)
	ref, idx, _ := indexFixture(t, reg, "notebook:1")
	dir := t.TempDir()
	if _, err := newCache(t, dir, false).Image(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	d := testfixture.Digest(t, idx)
	path := filepath.Join(dir, "blobs", "sha256", d.Hex)
	if err := os.WriteFile(path, []byte(`{"manifests":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newCache(t, dir, true).Image(context.Background(), ref)
	want := "offline: image " + ref + ": index " + d.String() + ": corrupt cache entry " + d.String() +
		" (content is sha256:" + digestOf([]byte(`{"manifests":[]}`)) + "): removed"
	if err == nil || err.Error() != want {
		t.Errorf("offline corrupt index: err = %v\nwant %s", err, want)
	}
	_, err = newCache(t, dir, true).Image(context.Background(), ref)
	if want := "offline: image " + ref + ": index " + d.String() + ": not in the cache"; err == nil || err.Error() != want {
		t.Errorf("offline removed index: err = %v\nwant %s", err, want)
	}

	// Online, the registry's index is kept again.
	got, err := newCache(t, dir, false).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(path); err != nil || digestOf(raw) != d.Hex || string(got.Index) != string(raw) {
		t.Errorf("index after an online pull: %q (%v), returned %q", raw, err, got.Index)
	}
}

func TestImageCorruptLayerIsRefetched(t *testing.T) {
	reg := newRegistry(t)
	img := randomImage(t)
	ref := reg.host + "/platform/jupyterhub:4"
	testfixture.PushImage(t, ref, img)
	dir := t.TempDir()
	if _, err := newCache(t, dir, false).Image(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer := filepath.Join(dir, "blobs", "sha256", testfixture.Digest(t, layers[1]).Hex)
	corrupt := func() {
		if err := os.WriteFile(layer, []byte("bit rot"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	corrupt()
	off := newCache(t, dir, true)
	_, err := off.Image(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), "corrupt cache entry "+testfixture.Digest(t, layers[1]).String()) ||
		!strings.HasPrefix(err.Error(), "offline: image "+ref+" (") {
		t.Errorf("offline corrupt: err = %v", err)
	}
	corrupt()
	before := reg.blobGets.Load()
	got, err := newCache(t, dir, false).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.blobGets.Load() - before; n != 1 {
		t.Errorf("refetch GETs = %d, want 1 (only the corrupt layer)", n)
	}
	if err := validate.Image(got.Image); err != nil {
		t.Errorf("repaired image invalid: %v", err)
	}
}

func TestImageRetriesTransientRegistryErrors(t *testing.T) {
	reg := newRegistry(t)
	img := randomImage(t)
	ref := reg.host + "/platform/minio:1.0"
	testfixture.PushImage(t, ref, img)
	c, err := New(Options{Dir: t.TempDir(), Attempts: 4, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg.busy.Store(3) // one more than go-containerregistry's default 3 tries allow
	got, err := c.Image(context.Background(), ref)
	if err != nil {
		t.Fatalf("three 503s, four attempts: %v", err)
	}
	if got.Digest != testfixture.Digest(t, img) {
		t.Errorf("digest %s, want %s", got.Digest, testfixture.Digest(t, img))
	}
	reg.busy.Store(4)
	_, err = c.Image(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("four 503s, four attempts: error %v, want the 503", err)
	}
}
