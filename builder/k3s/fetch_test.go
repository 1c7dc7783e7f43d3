package k3s

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
)

// env is one build's cache and fetch options against a release double.
type env struct {
	cache *cache.Cache
	opts  FetchOptions
	dir   string
}

func newEnv(t *testing.T, dir string, offline bool) env {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: dir, Offline: offline, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return env{cache: c, dir: dir}
}

func wantRequests(t *testing.T, d *releaseDouble, want ...string) {
	t.Helper()
	if got := d.requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests:\n got: %q\nwant: %q", got, want)
	}
}

func TestFetchRelease(t *testing.T) {
	d := newReleaseDouble(t)
	cfg := site.K3s{Version: testVersion, Mirror: d.mirror()}
	e := newEnv(t, t.TempDir(), false)
	rel, err := Fetch(context.Background(), e.cache, cfg, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, d,
		"GET /k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-amd64.txt",
		"GET /k3s/releases/download/v1.33.5%2Bk3s1/k3s",
		"GET /k3s/releases/download/v1.33.5%2Bk3s1/k3s-airgap-images-amd64.tar.zst")
	sums := d.assets[d.path(ChecksumsAsset)]
	wantInputs := []report.Input{
		{Name: "k3s-checksums", Source: d.srv.URL + d.path(ChecksumsAsset), Digest: "sha256:" + hexSum(sums), Size: int64(len(sums))},
		{Name: "k3s", Source: d.srv.URL + d.path(BinaryAsset), Digest: "sha256:" + hexSum(d.assets[d.path(BinaryAsset)]), Size: int64(len(d.assets[d.path(BinaryAsset)]))},
		{Name: "k3s-airgap-images", Source: d.srv.URL + d.path(AirgapAsset), Digest: "sha256:" + hexSum(d.assets[d.path(AirgapAsset)]), Size: int64(len(d.assets[d.path(AirgapAsset)]))},
	}
	if got := rel.Inputs(); !reflect.DeepEqual(got, wantInputs) {
		t.Errorf("inputs:\n got: %+v\nwant: %+v", got, wantInputs)
	}
	if rel.Version != testVersion || rel.AirgapName != AirgapAsset {
		t.Errorf("version %q, airgap name %q", rel.Version, rel.AirgapName)
	}
	bin, err := os.ReadFile(rel.Binary.Path())
	if err != nil || string(bin) != string(d.assets[d.path(BinaryAsset)]) {
		t.Errorf("binary content %q (%v) is not the served k3s", bin, err)
	}

	// A rebuild from the same cache directory, offline, asks for nothing.
	d.reset()
	off := newEnv(t, e.dir, true)
	again, err := Fetch(context.Background(), off.cache, cfg, off.opts)
	if err != nil {
		t.Fatalf("offline rebuild: %v", err)
	}
	wantRequests(t, d)
	if !reflect.DeepEqual(again.Inputs(), wantInputs) {
		t.Errorf("offline inputs:\n got: %+v\nwant: %+v", again.Inputs(), wantInputs)
	}

	// So does an online rebuild: the cache recorded the checksum file and
	// holds the assets.
	d.reset()
	if _, err := Fetch(context.Background(), e.cache, cfg, e.opts); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, d)
}

func TestFetchWrongChecksum(t *testing.T) {
	d := newReleaseDouble(t)
	listed := hexSum(d.assets[d.path(BinaryAsset)])
	tampered := []byte("#!/bin/sh\necho 'not the k3s the release lists'\n")
	d.put(BinaryAsset, tampered)
	e := newEnv(t, t.TempDir(), false)
	_, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts)
	want := "k3s v1.33.5+k3s1: asset k3s: fetch " + d.srv.URL + d.path(BinaryAsset) +
		": sha256 mismatch: expected sha256:" + listed + ", got sha256:" + hexSum(tampered)
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got: %v\nwant: %s", err, want)
	}
}

func TestFetchMissingAsset(t *testing.T) {
	t.Run("not listed", func(t *testing.T) {
		d := newReleaseDouble(t)
		d.put(ChecksumsAsset, []byte(checksums(map[string][]byte{BinaryAsset: d.assets[d.path(BinaryAsset)]})))
		e := newEnv(t, t.TempDir(), false)
		_, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts)
		want := "k3s v1.33.5+k3s1: asset k3s-airgap-images-amd64.tar.zst is not listed in " + d.srv.URL + d.path(ChecksumsAsset)
		if err == nil || err.Error() != want {
			t.Fatalf("error:\n got: %v\nwant: %s", err, want)
		}
	})
	t.Run("listed but not served", func(t *testing.T) {
		d := newReleaseDouble(t)
		delete(d.assets, d.path(AirgapAsset))
		e := newEnv(t, t.TempDir(), false)
		_, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts)
		want := "k3s v1.33.5+k3s1: asset k3s-airgap-images-amd64.tar.zst: fetch " + d.srv.URL + d.path(AirgapAsset) + " (1 attempts): HTTP 404 Not Found"
		if err == nil || err.Error() != want {
			t.Fatalf("error:\n got: %v\nwant: %s", err, want)
		}
	})
	t.Run("no checksum file", func(t *testing.T) {
		d := newReleaseDouble(t)
		delete(d.assets, d.path(ChecksumsAsset))
		e := newEnv(t, t.TempDir(), false)
		_, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts)
		want := "k3s v1.33.5+k3s1: checksums: fetch " + d.srv.URL + d.path(ChecksumsAsset) + " (1 attempts): HTTP 404 Not Found"
		if err == nil || err.Error() != want {
			t.Fatalf("error:\n got: %v\nwant: %s", err, want)
		}
		wantRequests(t, d, "GET "+d.path(ChecksumsAsset))
	})
}

func TestFetchChecksumFileRetriesTransientErrors(t *testing.T) {
	d := newReleaseDouble(t)
	d.fail[d.path(ChecksumsAsset)] = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}
	e := newEnv(t, t.TempDir(), false)
	if _, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts); err != nil {
		t.Fatal(err)
	}
	sums := "GET " + d.path(ChecksumsAsset)
	wantRequests(t, d, sums, sums, sums, "GET "+d.path(BinaryAsset), "GET "+d.path(AirgapAsset))

	d2 := newReleaseDouble(t)
	d2.fail[d2.path(ChecksumsAsset)] = []int{502, 502, 502, 502}
	e2 := newEnv(t, t.TempDir(), false)
	_, err := Fetch(context.Background(), e2.cache, site.K3s{Version: testVersion, Mirror: d2.mirror()}, e2.opts)
	want := "k3s v1.33.5+k3s1: checksums: fetch " + d2.srv.URL + d2.path(ChecksumsAsset) + " (4 attempts): HTTP 502 Bad Gateway"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got: %v\nwant: %s", err, want)
	}
}

func TestFetchOfflineColdCache(t *testing.T) {
	d := newReleaseDouble(t)
	e := newEnv(t, t.TempDir(), true)
	_, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts)
	want := "k3s v1.33.5+k3s1: checksums: offline: " + d.srv.URL + d.path(ChecksumsAsset) + " is not in the cache"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got: %v\nwant: %s", err, want)
	}
	wantRequests(t, d)
}

// TestFetchDamagedChecksums checks a checksum file damaged in the cache
// fails an offline build naming it and is fetched again online. (Each way a
// record can be damaged is covered by the cache's own tests.)
func TestFetchDamagedChecksums(t *testing.T) {
	d := newReleaseDouble(t)
	cfg := site.K3s{Version: testVersion, Mirror: d.mirror()}
	e := newEnv(t, t.TempDir(), false)
	rel, err := Fetch(context.Background(), e.cache, cfg, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	url := d.srv.URL + d.path(ChecksumsAsset)
	sums := filepath.Join(e.dir, "blobs", "sha256", strings.TrimPrefix(rel.ChecksumsDigest, "sha256:"))
	damaged := strings.Replace(string(d.assets[d.path(ChecksumsAsset)]), "  k3s\n", "  k3z\n", 1)
	if damaged == string(d.assets[d.path(ChecksumsAsset)]) {
		t.Fatal("the checksum file has no k3s line to damage")
	}
	if err := os.WriteFile(sums, []byte(damaged), 0o644); err != nil {
		t.Fatal(err)
	}

	off := newEnv(t, e.dir, true)
	_, err = Fetch(context.Background(), off.cache, cfg, off.opts)
	want := "k3s v1.33.5+k3s1: checksums: offline: " + url + " (" + rel.ChecksumsDigest + ") is not in the cache: corrupt cache entry " +
		rel.ChecksumsDigest + " (content is sha256:" + hexSum([]byte(damaged)) + "): removed"
	if err == nil || err.Error() != want {
		t.Fatalf("offline with damaged checksums:\n got: %v\nwant: %s", err, want)
	}

	// Online, the checksum file is downloaded again; the assets stay cached.
	d.reset()
	if _, err := Fetch(context.Background(), e.cache, cfg, e.opts); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, d, "GET "+d.path(ChecksumsAsset))
}

func TestFetchPinnedChecksums(t *testing.T) {
	d := newReleaseDouble(t)
	cfg := site.K3s{Version: testVersion, Mirror: d.mirror()}
	e := newEnv(t, t.TempDir(), false)
	actual := "sha256:" + hexSum(d.assets[d.path(ChecksumsAsset)])
	e.opts.ChecksumsSHA256 = actual
	if _, err := Fetch(context.Background(), e.cache, cfg, e.opts); err != nil {
		t.Fatalf("matching pin: %v", err)
	}
	e.opts.ChecksumsSHA256 = strings.Repeat("ab", 32)
	_, err := Fetch(context.Background(), e.cache, cfg, e.opts)
	want := "k3s v1.33.5+k3s1: " + d.srv.URL + d.path(ChecksumsAsset) + " is " + actual + ", the lock pins sha256:" + strings.Repeat("ab", 32)
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got: %v\nwant: %s", err, want)
	}
}

// TestFetchPinnedChecksumsFromCache checks a pinned checksum file held in
// the cache is used with no request: from another mirror the cache never
// recorded, and after the file changed upstream.
func TestFetchPinnedChecksumsFromCache(t *testing.T) {
	d := newReleaseDouble(t)
	e := newEnv(t, t.TempDir(), false)
	pinned := d.assets[d.path(ChecksumsAsset)]
	e.opts.ChecksumsSHA256 = "sha256:" + hexSum(pinned)
	cold, err := Fetch(context.Background(), e.cache, site.K3s{Version: testVersion, Mirror: d.mirror()}, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, d, "GET "+d.path(ChecksumsAsset), "GET "+d.path(BinaryAsset), "GET "+d.path(AirgapAsset))

	other := newReleaseDouble(t)
	cfg := site.K3s{Version: testVersion, Mirror: other.mirror()}
	for _, offline := range []bool{false, true} {
		c := newEnv(t, e.dir, offline)
		c.opts = e.opts
		rel, err := Fetch(context.Background(), c.cache, cfg, c.opts)
		if err != nil {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		wantRequests(t, other)
		if rel.ChecksumsDigest != cold.ChecksumsDigest || rel.Binary.Digest() != cold.Binary.Digest() || rel.Airgap.Digest() != cold.Airgap.Digest() {
			t.Errorf("offline=%v: release %s %s %s, want %s %s %s", offline, rel.ChecksumsDigest, rel.Binary.Digest(), rel.Airgap.Digest(),
				cold.ChecksumsDigest, cold.Binary.Digest(), cold.Airgap.Digest())
		}
	}

	// The checksum file changes upstream: the pin still decides.
	other.put(ChecksumsAsset, append([]byte(hexSum([]byte("new"))+"  extra-asset\n"), pinned...))
	rel, err := Fetch(context.Background(), e.cache, cfg, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, other)
	if rel.ChecksumsDigest != cold.ChecksumsDigest {
		t.Errorf("checksums %s, want the pinned %s", rel.ChecksumsDigest, cold.ChecksumsDigest)
	}

	// Unpinned, the new mirror's file is asked for (and is the new one).
	e.opts.ChecksumsSHA256 = ""
	rel, err = Fetch(context.Background(), e.cache, cfg, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantRequests(t, other, "GET "+other.path(ChecksumsAsset))
	if rel.ChecksumsDigest == cold.ChecksumsDigest {
		t.Error("unpinned fetch returned the pinned checksum file, not the mirror's")
	}
}

// failTransport fails the test on any request.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request %s", r.URL)
	return nil, errors.New("no requests allowed")
}

func TestFetchLocalFiles(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "k3s")
	airgap := filepath.Join(dir, "images.tar.gz")
	binData, airgapData := []byte("#!/bin/sh\necho 'local k3s test double'\n"), []byte("gzip archive stand-in")
	if err := os.WriteFile(bin, binData, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(airgap, airgapData, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cache.Options{Dir: filepath.Join(dir, "cache"), HTTPClient: &http.Client{Transport: failTransport{t}}})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := Fetch(context.Background(), c, site.K3s{Binary: bin, Airgap: airgap}, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.Input{
		{Name: "k3s", Source: bin, Digest: "sha256:" + hexSum(binData), Size: int64(len(binData))},
		{Name: "k3s-airgap-images", Source: airgap, Digest: "sha256:" + hexSum(airgapData), Size: int64(len(airgapData))},
	}
	if got := rel.Inputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("inputs:\n got: %+v\nwant: %+v", got, want)
	}
	if rel.AirgapName != "k3s-airgap-images-amd64.tar.gz" || rel.Version != "" || rel.Binary.Path() != bin {
		t.Errorf("release: airgap name %q, version %q, binary %s", rel.AirgapName, rel.Version, rel.Binary.Path())
	}

	_, err = Fetch(context.Background(), c, site.K3s{Binary: filepath.Join(dir, "missing"), Airgap: airgap}, FetchOptions{})
	if want := "k3s binary: hash " + filepath.Join(dir, "missing") + ": open " + filepath.Join(dir, "missing") + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("missing binary:\n got: %v\nwant: %s", err, want)
	}
}

func TestAssetURL(t *testing.T) {
	for _, tc := range []struct{ mirror, want string }{
		{site.DefaultK3sMirror, "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s"},
		{"http://mirror.internal/k3s/", "http://mirror.internal/k3s/v1.33.5%2Bk3s1/k3s"},
	} {
		if got := AssetURL(tc.mirror, testVersion, BinaryAsset); got != tc.want {
			t.Errorf("AssetURL(%q) = %q, want %q", tc.mirror, got, tc.want)
		}
	}
}

func TestParseChecksums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("B", 64)
	got, err := parseChecksums([]byte(a + "  k3s\r\n\n" + b + " *k3s-airgap-images-amd64.tar.zst\n" + a + "  k3s\n"))
	want := map[string]string{"k3s": a, "k3s-airgap-images-amd64.tar.zst": strings.ToLower(b)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseChecksums = %v, %v; want %v", got, err, want)
	}
	for data, wantErr := range map[string]string{
		"abc  k3s\n":                             `line 1: "abc  k3s" is not a sha256sum line`,
		a + "  k3s\n" + b + "  k3s\n":            "line 2: k3s listed twice with different digests",
		a + "\tk3s\n":                            `line 1: "` + a + `\tk3s" is not a sha256sum line`,
		"<html>Not Found</html>\n" + a + "  k3s": `line 1: "<html>Not Found</html>" is not a sha256sum line`,
	} {
		if _, err := parseChecksums([]byte(data)); err == nil || err.Error() != wantErr {
			t.Errorf("parseChecksums(%q) error = %v, want %s", data, err, wantErr)
		}
	}
}
