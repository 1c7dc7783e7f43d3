package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// TestPinnedImageChecksLayersBySize: a pinned image's layer of the wrong
// size (truncated) is removed and fetched again, with a request; one
// damaged in place at its size is not hashed at lookup (no request, no
// removal) and is found when read, by the digest check of the reader.
func TestPinnedImageChecksLayersBySize(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.host + "/platform/minio:1.0"
	dir, resolved, ld := cachedImage(t, ref)
	path := filepath.Join(dir, "blobs", "sha256", ld.Hex)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, content[:len(content)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if n := requestsDuring(reg, func() { _, err = newCache(t, dir, false).PinnedImage(context.Background(), ref, pinOf(resolved)) }); err != nil || n == 0 {
		t.Errorf("truncated layer: %d requests, %v; want it fetched again", n, err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(content) {
		t.Errorf("truncated layer not restored: %d bytes, want %d", len(got), len(content))
	}

	damaged := append([]byte{}, content...)
	damaged[len(damaged)/2] ^= 0xff
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	var got *Image
	if n := requestsDuring(reg, func() { got, err = newCache(t, dir, false).PinnedImage(context.Background(), ref, pinOf(resolved)) }); err != nil || n != 0 {
		t.Fatalf("layer damaged at its size: %d requests, %v; want none (not hashed at lookup)", n, err)
	}
	b, err := newCache(t, dir, false).Blob(ld)
	if err == nil || b != nil {
		t.Errorf("Blob of the damaged layer: %v, want it found corrupt and removed", err)
	}
	if got.Digest != resolved.Digest {
		t.Errorf("pinned image %s, want %s", got.Digest, resolved.Digest)
	}
}

// TestPinnedImageHashLayers: with Pin.HashLayers a layer damaged in place
// at its size is found at lookup, removed and fetched again (online) or
// reported (offline), where a plain pin checks sizes only
// (TestPinnedImageChecksLayersBySize).
func TestPinnedImageHashLayers(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.host + "/bases/debian:12"
	dir, resolved, layer := cachedImage(t, ref)
	path := filepath.Join(dir, "blobs", "sha256", layer.Hex)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damage := func() {
		t.Helper()
		damaged := append([]byte{}, content...)
		damaged[len(damaged)/2] ^= 0xff
		if err := os.WriteFile(path, damaged, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pin := pinOf(resolved)
	pin.HashLayers = true

	damage()
	_, err = newCache(t, dir, true).PinnedImage(context.Background(), ref, pin)
	if err == nil || !strings.Contains(err.Error(), "offline: image "+ref) || !strings.Contains(err.Error(), "corrupt cache entry") {
		t.Errorf("offline, damaged layer: %v, want it reported", err)
	}

	damage()
	if n := requestsDuring(reg, func() { _, err = newCache(t, dir, false).PinnedImage(context.Background(), ref, pin) }); err != nil || n == 0 {
		t.Fatalf("online, damaged layer: %d requests, %v; want it fetched again", n, err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(content) {
		t.Error("damaged layer not restored")
	}
	if n := requestsDuring(reg, func() { _, err = newCache(t, dir, false).PinnedImage(context.Background(), ref, pin) }); err != nil || n != 0 {
		t.Errorf("intact: %d requests, %v; want none", n, err)
	}
}

// cachedImage pushes a random image to ref and pulls it into a new cache
// directory: it returns the directory, the image as pulled and the digest
// of its first layer.
func cachedImage(t *testing.T, ref string) (string, *Image, v1.Hash) {
	t.Helper()
	img := randomImage(t)
	testfixture.PushImage(t, ref, img)
	dir := t.TempDir()
	resolved, err := newCache(t, dir, false).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return dir, resolved, testfixture.Digest(t, layers[0])
}
