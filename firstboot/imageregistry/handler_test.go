package imageregistry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func serveTestPayload(t *testing.T) (*testPayload, *Layout, *httptest.Server) {
	t.Helper()
	p := newPayload(t, 4096)
	l, err := Open(bytes.NewReader(p.data), int64(len(p.data)), p.index)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return p, l, srv
}

func do(t *testing.T, method, u string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestServeManifestsByTagAndDigest asks for every image as containerd
// does through a mirror (?ns=<registry>) and as a direct client does
// (the registry as the name's first component), and by digest: each
// answer is the manifest or index the name resolves to, with its media
// type, digest and length.
func TestServeManifestsByTagAndDigest(t *testing.T) {
	p, _, srv := serveTestPayload(t)
	for name, dgst := range p.top {
		k := imageKeyOf(t, name)
		for _, path := range []string{
			"/v2/" + k.repository + "/manifests/" + k.tag + "?ns=" + url.QueryEscape(k.registry),
			"/v2/" + k.registry + "/" + k.repository + "/manifests/" + k.tag,
			"/v2/any/name/manifests/" + dgst,
		} {
			resp, body := do(t, http.MethodGet, srv.URL+path, nil)
			if resp.StatusCode != http.StatusOK || digestOf(body) != dgst {
				t.Errorf("GET %s: %s, content %s, want 200 and %s", path, resp.Status, digestOf(body), dgst)
				continue
			}
			var m struct{ MediaType string }
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			checkHeaders(t, "GET "+path, resp, m.MediaType, dgst, len(body))
			head, hbody := do(t, http.MethodHead, srv.URL+path, nil)
			if head.StatusCode != http.StatusOK || len(hbody) != 0 {
				t.Errorf("HEAD %s: %s with %d body bytes", path, head.Status, len(hbody))
			}
			checkHeaders(t, "HEAD "+path, head, m.MediaType, dgst, len(body))
		}
	}
}

func checkHeaders(t *testing.T, what string, resp *http.Response, mediaType, dgst string, size int) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Type":                    mediaType,
		"Docker-Content-Digest":           dgst,
		"Content-Length":                  strconv.Itoa(size),
		"Docker-Distribution-Api-Version": "registry/2.0",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %s %q, want %q", what, k, got, want)
		}
	}
}

// TestServeBlobs serves every blob of every image whole, its first bytes
// as a range, and answers HEAD with the length alone.
func TestServeBlobs(t *testing.T) {
	p, _, srv := serveTestPayload(t)
	m, err := p.amd64["docker.io/library/nginx:1.25"].Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		path := srv.URL + "/v2/library/nginx/blobs/" + d.Digest.String() + "?ns=docker.io"
		resp, body := do(t, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK || digestOf(body) != d.Digest.String() {
			t.Errorf("GET %s: %s, content %s", path, resp.Status, digestOf(body))
		}
		checkHeaders(t, "GET "+path, resp, "application/octet-stream", d.Digest.String(), int(d.Size))
		resp, part := do(t, http.MethodGet, path, http.Header{"Range": {"bytes=10-19"}})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, body[10:20]) {
			t.Errorf("GET %s, bytes 10-19: %s, %q, want 206 and %q", path, resp.Status, part, body[10:20])
		}
		head, hbody := do(t, http.MethodHead, path, nil)
		if head.StatusCode != http.StatusOK || len(hbody) != 0 || head.ContentLength != d.Size {
			t.Errorf("HEAD %s: %s, %d bytes, Content-Length %d, want 200, none, %d", path, head.Status, len(hbody), head.ContentLength, d.Size)
		}
	}
}

// TestServeErrors: what the payload does not hold is 404 with an OCI
// error code, what would change it 405.
func TestServeErrors(t *testing.T) {
	p, l, srv := serveTestPayload(t)
	layer := "sha256:" + strings.Repeat("c", 64)
	nginx := p.top["docker.io/library/nginx:1.25"]
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v2/library/nginx/manifests/1.26?ns=docker.io", 404, "MANIFEST_UNKNOWN"},
		{http.MethodGet, "/v2/library/nginx/manifests/1.25?ns=quay.io", 404, "NAME_UNKNOWN"},
		{http.MethodGet, "/v2/library/nginx/manifests/1.25", 404, "NAME_UNKNOWN"},
		{http.MethodGet, "/v2/library/multi/manifests/" + p.arm64 + "?ns=docker.io", 404, "MANIFEST_UNKNOWN"},
		{http.MethodGet, "/v2/library/nginx/blobs/" + layer + "?ns=docker.io", 404, "BLOB_UNKNOWN"},
		{http.MethodGet, "/v2/library/nginx/tags/list?ns=docker.io", 404, "UNSUPPORTED"},
		{http.MethodGet, "/v2/_catalog", 404, "UNSUPPORTED"},
		{http.MethodGet, "/index.json", 404, "UNSUPPORTED"},
		{http.MethodPut, "/v2/library/nginx/manifests/1.25?ns=docker.io", 405, "UNSUPPORTED"},
		{http.MethodDelete, "/v2/library/nginx/blobs/" + nginx + "?ns=docker.io", 405, "UNSUPPORTED"},
		{http.MethodPost, "/v2/library/nginx/blobs/uploads/", 405, "UNSUPPORTED"},
	} {
		resp, body := do(t, c.method, srv.URL+c.path, nil)
		var e struct{ Errors []struct{ Code string } }
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != c.status || len(e.Errors) != 1 || e.Errors[0].Code != c.code {
			t.Errorf("%s %s: %s %s, want %d and code %s", c.method, c.path, resp.Status, body, c.status, c.code)
		}
	}
	// The manifest of a layer digest is not a manifest.
	if resp, _ := do(t, http.MethodGet, srv.URL+"/v2/x/manifests/"+layerDigest(t, p)+"?ns=docker.io", nil); resp.StatusCode != 404 {
		t.Errorf("a layer asked for as a manifest: %s", resp.Status)
	}
	resp, body := do(t, http.MethodGet, srv.URL+"/v2/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("GET /v2/: %s %v %s", resp.Status, resp.Header, body)
	}
	if s := l.Stats(); s.Requests != 13 || s.Errors != 12 || s.Manifests != 0 || s.Blobs != 0 {
		t.Errorf("Stats() = %+v, want 13 requests, 12 errors", s)
	}
}

func layerDigest(t *testing.T, p *testPayload) string {
	t.Helper()
	m, err := p.amd64["docker.io/library/nginx:1.25"].Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[0].Digest.String()
}

// TestPullWithGoContainerregistry pulls every image with another
// registry client, go-containerregistry's, through a transport that adds
// ns=<registry> as containerd does through a mirror, and checks each with
// its validator (manifest, config and index digests and sizes) and every
// layer's content against its digest (the validator would gunzip layers;
// these are uncompressed).
func TestPullWithGoContainerregistry(t *testing.T) {
	p, l, srv := serveTestPayload(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	var blobs int
	for n, img := range p.amd64 {
		k := imageKeyOf(t, n)
		ref, err := name.ParseReference(host + "/" + k.repository + ":" + k.tag)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}),
			remote.WithTransport(nsTransport(k.registry)))
		if err != nil {
			t.Fatalf("pull %s: %v", n, err)
		}
		if err := validate.Image(got, validate.Fast); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		want, _ := img.Digest()
		if d, _ := got.Digest(); d != want {
			t.Errorf("%s is %s, want %s", n, d, want)
		}
		layers, err := got.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, layer := range layers {
			d, _ := layer.Digest()
			rc, err := layer.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || digestOf(b) != d.String() {
				t.Errorf("%s layer %s: content %s, %v", n, d, digestOf(b), err)
			}
		}
		blobs += 1 + len(layers)
	}
	if s := l.Stats(); s.Blobs < uint64(blobs) || s.Bytes == 0 || s.Errors != 0 {
		t.Errorf("Stats() = %+v, want at least %d blobs, no error", s, blobs)
	}
}

// nsTransport adds ns=<registry> to every request.
type nsTransport string

func (ns nsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("ns", string(ns))
	r.URL.RawQuery = q.Encode()
	return http.DefaultTransport.RoundTrip(r)
}
