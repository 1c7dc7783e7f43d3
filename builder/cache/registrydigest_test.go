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

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// TestRegistryDigestFollowsTheTagAndDownloadsNothing: the digest a tag
// names, an index's for an index, a new one once the tag moves; no blob
// is fetched and nothing is recorded; offline it is an error.
func TestRegistryDigestFollowsTheTagAndDownloadsNothing(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.host + "/bases/debian:12"
	first := randomImage(t)
	testfixture.PushImage(t, ref, first)
	dir := t.TempDir()
	c := newCache(t, dir, false)
	got, err := c.RegistryDigest(context.Background(), ref)
	if err != nil || got.Digest != testfixture.Digest(t, first).String() || got.MediaType.IsIndex() {
		t.Fatalf("RegistryDigest = %+v, %v; want manifest %s", got, err, testfixture.Digest(t, first))
	}
	moved := randomImage(t)
	testfixture.PushImage(t, ref, moved)
	if got, err = c.RegistryDigest(context.Background(), ref); err != nil || got.Digest != testfixture.Digest(t, moved).String() {
		t.Errorf("after the tag moved: %+v, %v; want %s", got, err, testfixture.Digest(t, moved))
	}
	idxRef, idx, _ := indexFixture(t, reg, "debian:13")
	if got, err = c.RegistryDigest(context.Background(), idxRef); err != nil || got.Digest != testfixture.Digest(t, idx).String() || !got.MediaType.IsIndex() {
		t.Errorf("index: %+v, %v; want index %s", got, err, testfixture.Digest(t, idx))
	}
	if n := reg.blobGets.Load(); n != 0 {
		t.Errorf("%d blob downloads, want none", n)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "refs")); len(entries) != 0 {
		t.Errorf("refs/ has %d records, want none", len(entries))
	}
	_, err = newCache(t, dir, true).RegistryDigest(context.Background(), ref)
	if err == nil || err.Error() != "offline: image "+ref+": the registry is not asked" {
		t.Errorf("offline: %v", err)
	}
}

// TestRegistryDigestFallsBackToGET: a registry that refuses HEAD on
// manifests is asked with GET, as crane.Digest does.
func TestRegistryDigestFallsBackToGET(t *testing.T) {
	var heads, gets atomic.Int32
	var refuseHead atomic.Bool
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			switch r.Method {
			case http.MethodHead:
				if !refuseHead.Load() {
					break // the push asks whether the manifest is there
				}
				heads.Add(1)
				http.Error(w, "no HEAD here", http.StatusMethodNotAllowed)
				return
			case http.MethodGet:
				gets.Add(1)
			}
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/bases/debian:12"
	img := randomImage(t)
	testfixture.PushImage(t, ref, img)
	refuseHead.Store(true)
	gets.Store(0)
	got, err := newCache(t, t.TempDir(), false).RegistryDigest(context.Background(), ref)
	if err != nil || got.Digest != testfixture.Digest(t, img).String() || got.MediaType != types.DockerManifestSchema2 {
		t.Fatalf("RegistryDigest = %+v, %v; want %s", got, err, testfixture.Digest(t, img))
	}
	if heads.Load() == 0 || gets.Load() != 1 {
		t.Errorf("%d HEAD and %d GET manifest requests, want HEAD tried then one GET", heads.Load(), gets.Load())
	}
	_, err = newCache(t, t.TempDir(), false).RegistryDigest(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/bases/none:1")
	if err == nil || !strings.Contains(err.Error(), "image "+strings.TrimPrefix(srv.URL, "http://")+"/bases/none:1: ") {
		t.Errorf("missing tag: %v, want an error naming it", err)
	}
}
