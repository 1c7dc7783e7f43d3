package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnpinnedRecordsForOffline(t *testing.T) {
	body := []byte("0123abcd  k3s\n")
	srv := newFileServer(t, body, 2)
	dir := t.TempDir()
	b, err := newCache(t, dir, false).Unpinned(context.Background(), srv.url, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.requests.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (two 503s, then success)", got)
	}
	if readAll(t, b) != string(body) || b.Digest().Hex != digestOf(body) || b.Size() != int64(len(body)) {
		t.Errorf("blob = %s %d bytes", b.Digest(), b.Size())
	}
	rec, err := os.ReadFile(recordPath(dir, "urls", srv.url))
	if want := "{\n  \"url\": \"" + srv.url + "\",\n  \"digest\": \"sha256:" + digestOf(body) + "\"\n}\n"; err != nil || string(rec) != want {
		t.Errorf("record = %q (%v)\nwant %q", rec, err, want)
	}
	for _, offline := range []bool{false, true} {
		again, err := newCache(t, dir, offline).Unpinned(context.Background(), srv.url, 1<<10)
		if err != nil {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		if again.Digest() != b.Digest() || readAll(t, again) != string(body) {
			t.Errorf("offline=%v: got %s, want the recorded %s", offline, again.Digest(), b.Digest())
		}
	}
	if got := srv.requests.Load(); got != 3 {
		t.Errorf("requests after recorded lookups = %d, want still 3", got)
	}
}

func TestUnpinnedErrors(t *testing.T) {
	body := []byte("checksum file")
	srv := newFileServer(t, body, 0)
	busy := newFileServer(t, body, 100)
	tests := []struct {
		name     string
		srv      *fileServer
		url      string
		max      int64
		offline  bool
		want     string
		requests int32
	}{
		{"not found", srv, srv.url + "-missing", 1 << 10, false,
			"fetch " + srv.url + "-missing (1 attempts): HTTP 404 Not Found", 1},
		{"always busy", busy, busy.url, 1 << 10, false,
			"fetch " + busy.url + " (4 attempts): HTTP 503 Service Unavailable", 4},
		{"too large", srv, srv.url, 12, false,
			"fetch " + srv.url + ": larger than 12 bytes", 1},
		{"offline, never fetched", srv, srv.url, 1 << 10, true,
			"offline: " + srv.url + " is not in the cache", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := tt.srv.requests.Load()
			_, err := newCache(t, dir, tt.offline).Unpinned(context.Background(), tt.url, tt.max)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
			if got := tt.srv.requests.Load() - before; got != tt.requests {
				t.Errorf("requests = %d, want %d", got, tt.requests)
			}
			for _, sub := range []string{"blobs/sha256", "tmp", "urls"} {
				if left, _ := os.ReadDir(filepath.Join(dir, sub)); len(left) != 0 {
					t.Errorf("failed fetch left %s/%v", sub, left)
				}
			}
		})
	}
}

// TestUnpinnedDamaged checks each way a record or its entry can be damaged
// is an error offline and fetched again online.
func TestUnpinnedDamaged(t *testing.T) {
	body := []byte("recorded content")
	sum := digestOf(body)
	srv := newFileServer(t, body, 0)
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir, record, blob string)
		offline string // the offline error after "offline: <url> "
	}{
		{"corrupt entry", func(t *testing.T, dir, record, blob string) { write(t, blob, "recorded contenT") },
			"(sha256:" + sum + ") is not in the cache: corrupt cache entry sha256:" + sum +
				" (content is sha256:" + digestOf([]byte("recorded contenT")) + "): removed"},
		{"missing entry", func(t *testing.T, dir, record, blob string) { os.Remove(blob) },
			"(sha256:" + sum + ") is not in the cache"},
		{"record not JSON", func(t *testing.T, dir, record, blob string) { write(t, record, "{trunc") },
			"is not in the cache: damaged record RECORD: invalid character 't' looking for beginning of object key string"},
		{"record for another URL", func(t *testing.T, dir, record, blob string) {
			write(t, record, `{"url":"http://elsewhere/x","digest":"sha256:`+sum+`"}`)
		}, `is not in the cache: damaged record RECORD: records "http://elsewhere/x", not "URL"`},
		{"record with a bad digest", func(t *testing.T, dir, record, blob string) {
			write(t, record, `{"url":"URL","digest":"sha256:abc"}`)
		}, `is not in the cache: damaged record RECORD: digest: wrong number of hex digits for sha256: abc`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := newCache(t, dir, false).Unpinned(context.Background(), srv.url, 1<<10); err != nil {
				t.Fatal(err)
			}
			record := recordPath(dir, "urls", srv.url)
			tt.damage(t, dir, record, filepath.Join(dir, "blobs", "sha256", sum))
			if raw, err := os.ReadFile(record); err == nil {
				write(t, record, strings.ReplaceAll(string(raw), "URL", srv.url))
			}

			_, err := newCache(t, dir, true).Unpinned(context.Background(), srv.url, 1<<10)
			want := "offline: " + srv.url + " " + strings.ReplaceAll(strings.ReplaceAll(tt.offline, "URL", srv.url), "RECORD", record)
			if err == nil || err.Error() != want {
				t.Errorf("offline: err = %v\nwant %s", err, want)
			}

			before := srv.requests.Load()
			b, err := newCache(t, dir, false).Unpinned(context.Background(), srv.url, 1<<10)
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.requests.Load() - before; got != 1 || readAll(t, b) != string(body) {
				t.Errorf("online repair: %d requests, content %q; want 1 request and %q", got, readAll(t, b), body)
			}
			if _, err := newCache(t, dir, true).Unpinned(context.Background(), srv.url, 1<<10); err != nil {
				t.Errorf("offline after repair: %v", err)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCurrentFetchesOnlineAndRecordsForOffline(t *testing.T) {
	srv := newFileServer(t, []byte("index v1"), 0)
	dir := t.TempDir()
	online := newCache(t, dir, false)
	for _, body := range []string{"index v1", "index v2"} {
		srv.body = []byte(body)
		b, err := online.Current(context.Background(), srv.url, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, b); got != body {
			t.Errorf("online Current = %q, want the served %q", got, body)
		}
	}
	if got := srv.requests.Load(); got != 2 {
		t.Errorf("requests = %d, want 2 (one per online call)", got)
	}
	srv.body = []byte("index v3")
	b, err := newCache(t, dir, true).Current(context.Background(), srv.url, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b); got != "index v2" {
		t.Errorf("offline Current = %q, want the last fetched %q", got, "index v2")
	}
	_, err = newCache(t, t.TempDir(), true).Current(context.Background(), srv.url, 1<<10)
	if want := "offline: " + srv.url + " is not in the cache"; err == nil || err.Error() != want {
		t.Errorf("offline, never fetched: error %v, want %s", err, want)
	}
	if got := srv.requests.Load(); got != 2 {
		t.Errorf("requests after offline calls = %d, want still 2", got)
	}
}
