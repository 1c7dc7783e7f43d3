package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/progress"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fileServer serves body at /asset, failing the first `failures` requests
// with HTTP 503, and counts requests.
type fileServer struct {
	body     []byte
	failures int32
	requests atomic.Int32
	url      string
}

func newFileServer(t *testing.T, body []byte, failures int32) *fileServer {
	fs := &fileServer{body: body, failures: failures}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := fs.requests.Add(1)
		if r.URL.Path != "/asset" {
			http.NotFound(w, r)
			return
		}
		if n <= fs.failures {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write(fs.body)
	}))
	t.Cleanup(srv.Close)
	fs.url = srv.URL + "/asset"
	return fs
}

func newCache(t *testing.T, dir string, offline bool) *Cache {
	t.Helper()
	c, err := New(Options{Dir: dir, Offline: offline, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readAll(t *testing.T, b *Blob) string {
	t.Helper()
	rc, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestURLFetchesOnceWithRetries(t *testing.T) {
	body := []byte("k3s release asset")
	srv := newFileServer(t, body, 2)
	c := newCache(t, t.TempDir(), false)
	b, err := c.URL(context.Background(), srv.url, digestOf(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.requests.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (two 503s, then success)", got)
	}
	if readAll(t, b) != string(body) || b.Size() != int64(len(body)) || b.Digest().Hex != digestOf(body) {
		t.Errorf("blob = %s %d bytes", b.Digest(), b.Size())
	}
	if _, err := c.URL(context.Background(), srv.url, "sha256:"+digestOf(body)); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests.Load(); got != 3 {
		t.Errorf("requests after second Get = %d, want still 3", got)
	}
}

func TestURLErrors(t *testing.T) {
	body := []byte("real content")
	wrong := digestOf([]byte("something else"))
	srv := newFileServer(t, body, 0)
	busy := newFileServer(t, body, 100)
	c := newCache(t, t.TempDir(), false)
	tests := []struct {
		name, url, sha string
		want           string
		requests       int32
	}{
		{"mismatch", srv.url, wrong,
			"fetch " + srv.url + ": sha256 mismatch: expected sha256:" + wrong + ", got sha256:" + digestOf(body), 1},
		{"not found", srv.url + "-missing", digestOf(body),
			"fetch " + srv.url + "-missing (1 attempts): HTTP 404 Not Found", 1},
		{"always busy", busy.url, digestOf(body),
			"fetch " + busy.url + " (4 attempts): HTTP 503 Service Unavailable", 4},
		{"bad digest", srv.url, "abc",
			"fetch " + srv.url + ": sha256: wrong number of hex digits for sha256: abc", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := srv
			if tt.url == busy.url {
				s = busy
			}
			before := s.requests.Load()
			_, err := c.URL(context.Background(), tt.url, tt.sha)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
			if got := s.requests.Load() - before; got != tt.requests {
				t.Errorf("requests = %d, want %d", got, tt.requests)
			}
		})
	}
	if left, _ := os.ReadDir(filepath.Join(c.opts.Dir, "blobs", "sha256")); len(left) != 0 {
		t.Errorf("failed fetches left entries: %v", left)
	}
	if left, _ := os.ReadDir(filepath.Join(c.opts.Dir, "tmp")); len(left) != 0 {
		t.Errorf("failed fetches left temp files: %v", left)
	}
}

func TestCorruptEntryIsRefetched(t *testing.T) {
	body := []byte("chart tarball")
	srv := newFileServer(t, body, 0)
	dir := t.TempDir()
	c := newCache(t, dir, false)
	b, err := c.URL(context.Background(), srv.url, digestOf(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Path(), []byte("chart tarbalL"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Open of the blob handed out before notices too.
	rc, _ := b.Open()
	_, err = io.ReadAll(rc)
	rc.Close()
	if want := "read " + b.Path() + ": content changed on disk (now sha256:" + digestOf([]byte("chart tarbalL")) + ", 13 bytes)"; err == nil || err.Error() != want {
		t.Errorf("read corrupted blob: err = %v\nwant %s", err, want)
	}
	b2, err := c.URL(context.Background(), srv.url, digestOf(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.requests.Load(); got != 2 {
		t.Errorf("requests = %d, want 2 (corrupt entry fetched again)", got)
	}
	if readAll(t, b2) != string(body) {
		t.Error("refetched content differs")
	}

	// Offline, corruption is an error and the entry is gone.
	if err := os.WriteFile(b2.Path(), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	off := newCache(t, dir, true)
	_, err = off.URL(context.Background(), srv.url, digestOf(body))
	want := "offline: " + srv.url + " (sha256:" + digestOf(body) + ") is not in the cache: corrupt cache entry sha256:" +
		digestOf(body) + " (content is sha256:" + digestOf([]byte("garbage")) + "): removed"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if _, err := os.Stat(b2.Path()); !os.IsNotExist(err) {
		t.Errorf("corrupt entry still there: %v", err)
	}
}

func TestOfflineMiss(t *testing.T) {
	c := newCache(t, t.TempDir(), true)
	sum := digestOf([]byte("x"))
	_, err := c.URL(context.Background(), "https://x/y.tar", sum)
	if want := "offline: https://x/y.tar (sha256:" + sum + ") is not in the cache"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestFileHashesInPlace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "local.bin")
	if err := os.WriteFile(p, []byte("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := newCache(t, t.TempDir(), true).File(p)
	if err != nil {
		t.Fatal(err)
	}
	if b.Path() != p || b.Digest().Hex != digestOf([]byte("local")) || b.Size() != 5 || readAll(t, b) != "local" {
		t.Errorf("File = %s %s %d", b.Path(), b.Digest(), b.Size())
	}
}

func TestURLDownloadShowsProgress(t *testing.T) {
	body := []byte("k3s release asset")
	srv := newFileServer(t, body, 0)
	var out bytes.Buffer
	terminal := false
	d := progress.New(&out, progress.Options{Terminal: &terminal})
	c, err := New(Options{Dir: t.TempDir(), Progress: d})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.URL(context.Background(), srv.url, digestOf(body)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	lines := out.String()
	for _, want := range []string{`msg="task started" task="fetch asset" items_total=1 bytes_total="17 B"`,
		`msg="task done" task="fetch asset" items=1 bytes="17 B"`} {
		if !strings.Contains(lines, want) {
			t.Errorf("progress lines:\n%s\nwant one containing %s", lines, want)
		}
	}
}
