package cache

import (
	"context"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// pinOf is the pin a lock writes for img.
func pinOf(img *Image) Pin { return Pin{Digest: img.Digest, IndexDigest: img.IndexDigest} }

// requestsDuring counts the requests reg gets while f runs.
func requestsDuring(reg *testRegistry, f func()) int32 {
	before := reg.requests.Load()
	f()
	return reg.requests.Load() - before
}

func TestPinnedImageWarmMakesNoRequest(t *testing.T) {
	reg := newRegistry(t)
	idxRef, idx, amd := indexFixture(t, reg, "mlflow:2.9")
	plainRef := reg.host + "/platform/minio:1.0"
	testfixture.PushImage(t, plainRef, randomImage(t))
	for _, ref := range []string{idxRef, plainRef} {
		t.Run(ref[strings.LastIndex(ref, "/")+1:], func(t *testing.T) {
			resolved, err := newCache(t, t.TempDir(), false).Image(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			pin := pinOf(resolved)
			if ref == idxRef && (pin.Digest != testfixture.Digest(t, amd) || pin.IndexDigest != testfixture.Digest(t, idx)) {
				t.Fatalf("pin %+v, want amd64 %s in index %s", pin, testfixture.Digest(t, amd), testfixture.Digest(t, idx))
			}

			dir := t.TempDir()
			c := newCache(t, dir, false)
			var cold *Image
			if n := requestsDuring(reg, func() { cold, err = c.PinnedImage(context.Background(), ref, pin) }); err != nil || n == 0 {
				t.Fatalf("cold: %d requests, %v; want some and no error", n, err)
			}
			checkPinned(t, "cold", cold, ref, resolved)

			// Warm, online: the same Cache, a new one on the directory, and
			// one whose record of ref is gone (the blobs are enough).
			for i, c := range []*Cache{c, newCache(t, dir, false), newCache(t, dir, false)} {
				if i == 2 {
					if err := os.Remove(recordPath(dir, "refs", ref)); err != nil {
						t.Fatal(err)
					}
				}
				var warm *Image
				if n := requestsDuring(reg, func() { warm, err = c.PinnedImage(context.Background(), ref, pin) }); err != nil || n != 0 {
					t.Fatalf("warm %d: %d requests, %v; want 0 and no error", i, n, err)
				}
				checkPinned(t, "warm", warm, ref, resolved)
			}
		})
	}
}

// checkPinned compares a PinnedImage result with the Image it was pinned
// from.
func checkPinned(t *testing.T, what string, got *Image, ref string, want *Image) {
	t.Helper()
	if got.Ref != ref || got.Digest != want.Digest || got.IndexDigest != want.IndexDigest ||
		string(got.Index) != string(want.Index) || got.IndexMediaType != want.IndexMediaType {
		t.Errorf("%s: %s %s index %s (%s, %d bytes), want %s %s index %s (%s, %d bytes)", what,
			got.Ref, got.Digest, got.IndexDigest, got.IndexMediaType, len(got.Index),
			ref, want.Digest, want.IndexDigest, want.IndexMediaType, len(want.Index))
	}
	if err := validate.Image(got.Image); err != nil {
		t.Errorf("%s: image invalid: %v", what, err)
	}
}

func TestPinnedImageIgnoresMovedTag(t *testing.T) {
	reg := newRegistry(t)
	ref, _, _ := indexFixture(t, reg, "notebook:1")
	dir := t.TempDir()
	resolved, err := newCache(t, dir, false).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	pin := pinOf(resolved)
	moved := randomImage(t)
	testfixture.PushImage(t, ref, moved)
	if now, err := newCache(t, t.TempDir(), false).Image(context.Background(), ref); err != nil || now.Digest != testfixture.Digest(t, moved) {
		t.Fatalf("the tag did not move: %v", err)
	}

	var warm *Image
	if n := requestsDuring(reg, func() { warm, err = newCache(t, dir, false).PinnedImage(context.Background(), ref, pin) }); err != nil || n != 0 {
		t.Fatalf("warm: %d requests, %v; want 0", n, err)
	}
	checkPinned(t, "warm after the tag moved", warm, ref, resolved)

	// A cold cache fetches by digest, not by the moved tag, and records the
	// pinned image under ref for offline builds.
	cold := t.TempDir()
	got, err := newCache(t, cold, false).PinnedImage(context.Background(), ref, pin)
	if err != nil {
		t.Fatal(err)
	}
	checkPinned(t, "cold after the tag moved", got, ref, resolved)
	off, err := newCache(t, cold, true).Image(context.Background(), ref)
	if err != nil || off.Digest != pin.Digest {
		t.Errorf("offline Image after PinnedImage: %v; want %s", err, pin.Digest)
	}
}

func TestPinnedImageErrors(t *testing.T) {
	reg := newRegistry(t)
	ref, idx, _ := indexFixture(t, reg, "jupyter:3")
	resolved, err := newCache(t, t.TempDir(), false).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	pin := pinOf(resolved)
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	arm := m.Manifests[0].Digest
	repo := strings.TrimSuffix(ref, ":3")

	_, err = newCache(t, t.TempDir(), true).PinnedImage(context.Background(), ref, pin)
	if want := "offline: image " + ref + " (" + pin.Digest.String() + ") is not in the cache"; err == nil || err.Error() != want {
		t.Errorf("offline miss: err = %v\nwant %s", err, want)
	}

	wrong := Pin{Digest: arm, IndexDigest: pin.IndexDigest}
	_, err = newCache(t, t.TempDir(), false).PinnedImage(context.Background(), ref, wrong)
	want := "image " + ref + ": " + repo + "@" + pin.IndexDigest.String() + " gives linux/amd64 manifest " +
		pin.Digest.String() + ", the lock pins " + arm.String()
	if err == nil || err.Error() != want {
		t.Errorf("wrong manifest pinned: err = %v\nwant %s", err, want)
	}

	_, err = newCache(t, t.TempDir(), false).PinnedImage(context.Background(), ref, Pin{IndexDigest: pin.IndexDigest})
	if want := "image " + ref + ": the pin has no manifest digest"; err == nil || err.Error() != want {
		t.Errorf("no manifest digest: err = %v", err)
	}

	unknown := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	_, err = newCache(t, t.TempDir(), false).PinnedImage(context.Background(), ref, Pin{Digest: unknown})
	if err == nil || !strings.HasPrefix(err.Error(), "image "+ref+": GET http://"+reg.host+"/v2/platform/jupyter/manifests/"+unknown.String()+": MANIFEST_UNKNOWN") {
		t.Errorf("unknown digest: err = %v", err)
	}
}
