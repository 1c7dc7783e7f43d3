package imagestore

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

func TestPullResolvesNamesAndDigests(t *testing.T) {
	f := newFixture(t)
	imgs := f.pull(t, f.refA, f.refBByDigest, f.refMulti)
	want := []struct {
		name          string
		digest, index v1.Hash
	}{
		{f.refA, testfixture.Digest(t, f.appA), v1.Hash{}},
		{f.refBByDigest, testfixture.Digest(t, f.appB), v1.Hash{}},
		{f.refMulti, testfixture.Digest(t, f.multiAMD), testfixture.Digest(t, f.multi)},
	}
	if len(imgs) != len(want) {
		t.Fatalf("Pull returned %d images, want %d", len(imgs), len(want))
	}
	for i, w := range want {
		got := imgs[i]
		if got.Name != w.name || got.Digest != w.digest || got.IndexDigest != w.index {
			t.Errorf("image %d = %s %s index %q, want %s %s index %q", i, got.Name, got.Digest, got.IndexDigest, w.name, w.digest, w.index)
		}
	}
	if got, want := imgs[2].RegistryDigest(), testfixture.Digest(t, f.multi); got != want {
		t.Errorf("RegistryDigest of the multi-arch image = %s, want the index %s", got, want)
	}
	if got, want := imgs[0].RegistryDigest(), testfixture.Digest(t, f.appA); got != want {
		t.Errorf("RegistryDigest of a single-arch image = %s, want the manifest %s", got, want)
	}
}

// TestPullStoresSharedLayerOnce checks the cache holds exactly the distinct
// blobs of the amd64 images plus the index: the shared base layer once,
// nothing of arm64.
func TestPullStoresSharedLayerOnce(t *testing.T) {
	f := newFixture(t)
	imgs := f.pull(t, f.refA, f.refB, f.refMulti)
	want := map[string]bool{testfixture.Digest(t, f.multi).Hex: true}
	for _, img := range []v1.Image{f.appA, f.appB, f.multiAMD} {
		for _, d := range blobsOf(t, img) {
			want[d.Hex] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(f.cacheDir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var cacheBytes, imageBytes int64
	for _, e := range entries {
		got = append(got, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		cacheBytes += fi.Size()
	}
	var wantList []string
	for d := range want {
		wantList = append(wantList, d)
	}
	slices.Sort(wantList)
	if !slices.Equal(got, wantList) {
		t.Errorf("cache blobs = %v\nwant %v", got, wantList)
	}
	for _, d := range blobsOf(t, f.arm)[2:] {
		if slices.Contains(got, d.Hex) {
			t.Errorf("arm64 layer %s is in the cache", d)
		}
	}
	for _, img := range imgs {
		imageBytes += img.Size
	}
	baseSize, err := f.base.Size()
	if err != nil {
		t.Fatal(err)
	}
	if cacheBytes != imageBytes-baseSize {
		t.Errorf("cache holds %d bytes, want the images' %d minus one copy of the shared layer (%d)", cacheBytes, imageBytes, baseSize)
	}
	t.Logf("cache %d bytes for images totalling %d bytes", cacheBytes, imageBytes)
}

// TestPullOfflineKeepsIndex checks a second store over the same cache,
// offline and with the registry gone, resolves the multi-arch image with
// its index.
func TestPullOfflineKeepsIndex(t *testing.T) {
	f := newFixture(t)
	online := f.pull(t, f.refMulti)
	f.registryClosed()
	c, err := cache.New(cache.Options{Dir: f.cacheDir, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	offline, err := s.Pull(context.Background(), []string{f.refMulti})
	if err != nil {
		t.Fatal(err)
	}
	if offline[0].IndexDigest != online[0].IndexDigest || string(offline[0].index) != string(online[0].index) ||
		offline[0].indexType != online[0].indexType {
		t.Errorf("offline index %s differs from online %s", offline[0].IndexDigest, online[0].IndexDigest)
	}
}

func TestPullNamesEveryMissingImage(t *testing.T) {
	f := newFixture(t)
	missing1 := f.host + "/team/nope:1"
	missing2 := f.host + "/team/gone:2"
	_, err := f.store.Pull(context.Background(), []string{missing1, f.refA, missing2})
	if err == nil {
		t.Fatal("Pull of missing images succeeded")
	}
	for _, ref := range []string{"image " + missing1 + ": ", "image " + missing2 + ": "} {
		if !strings.Contains(err.Error(), ref) {
			t.Errorf("error %q does not name %s", err, ref)
		}
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 2 {
		t.Errorf("error has %d lines, want one per missing image: %q", got, err)
	}
}
