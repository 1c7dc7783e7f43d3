package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestBlob(t *testing.T) {
	body := []byte("chart archive")
	srv := newFileServer(t, body, 0)
	dir := t.TempDir()
	stored, err := newCache(t, dir, false).URL(context.Background(), srv.url, digestOf(body))
	if err != nil {
		t.Fatal(err)
	}
	d := stored.Digest()
	for _, offline := range []bool{false, true} {
		b, err := newCache(t, dir, offline).Blob(d)
		if err != nil {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		if b.Digest() != d || b.Size() != int64(len(body)) || b.Path() != stored.Path() || readAll(t, b) != string(body) {
			t.Errorf("offline=%v: blob %s %d bytes at %s, want %s %d bytes at %s", offline, b.Digest(), b.Size(), b.Path(), d, len(body), stored.Path())
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1 (the URL fetch; Blob makes none)", n)
	}

	c := newCache(t, dir, false)
	miss := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	_, err = c.Blob(miss)
	if !errors.Is(err, ErrNotCached) || err.Error() != "blob "+miss.String()+": not in the cache" {
		t.Errorf("miss: err = %v", err)
	}

	if err := os.WriteFile(stored.Path(), []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.Blob(d)
	want := "blob " + d.String() + ": not in the cache: corrupt cache entry " + d.String() + " (content is sha256:" + digestOf([]byte("bit rot")) + "): removed"
	if !errors.Is(err, ErrNotCached) || err == nil || err.Error() != want {
		t.Errorf("corrupt: err = %v\nwant %s", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d.Hex)); !os.IsNotExist(err) {
		t.Errorf("corrupt entry not removed: %v", err)
	}

	if _, err := c.Blob(v1.Hash{}); err == nil || errors.Is(err, ErrNotCached) || err.Error() != `blob ":": not a sha256 digest` {
		t.Errorf("zero digest: err = %v", err)
	}
}
