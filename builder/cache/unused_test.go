package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveIfUnused: a cache New created and nothing was stored in goes,
// with the parents New created; one that was there before, or that holds
// a download, stays.
func TestRemoveIfUnused(t *testing.T) {
	root := t.TempDir()
	fresh := filepath.Join(root, "new", "cache")
	if err := newCache(t, fresh, true).RemoveIfUnused(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "new")); !os.IsNotExist(err) {
		t.Errorf("an unused new cache is left: %v", err)
	}

	existing := filepath.Join(root, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := newCache(t, existing, true).RemoveIfUnused(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("a cache directory that was there is gone: %v", err)
	}

	used := filepath.Join(root, "used")
	c := newCache(t, used, false)
	body := []byte("k3s release asset")
	if _, err := c.URL(context.Background(), newFileServer(t, body, 0).url, digestOf(body)); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveIfUnused(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.URL(context.Background(), "http://127.0.0.1:1/gone", digestOf(body)); err != nil {
		t.Errorf("the download is gone from a used cache: %v", err)
	}
}
