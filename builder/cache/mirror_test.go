package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// loopbackOnly lets requests reach 127.0.0.1 only and fails the test on any
// other, so a mirror that is not applied shows as an error, never as
// traffic to an upstream registry.
type loopbackOnly struct{ t *testing.T }

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if host, _, _ := net.SplitHostPort(r.URL.Host); host != "127.0.0.1" {
		l.t.Errorf("request to %s: only 127.0.0.1 is allowed", r.URL)
		return nil, errors.New("not a loopback address")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// newMirroredCache opens dir with mirrors, logging into log when not nil.
func newMirroredCache(t *testing.T, dir string, offline bool, mirrors map[string]string, log *bytes.Buffer) *Cache {
	t.Helper()
	opts := Options{Dir: dir, Offline: offline, Backoff: time.Millisecond, RegistryMirrors: mirrors,
		HTTPClient: &http.Client{Transport: loopbackOnly{t}}}
	if log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRegistryMirrorWithPrefix(t *testing.T) {
	upstream, mirror := newRegistry(t), newRegistry(t)
	ref := upstream.host + "/library/x:1.0"
	// The upstream serves another image under the same tag: what comes
	// back shows which registry answered.
	testfixture.PushImage(t, ref, randomImage(t))
	img := randomImage(t)
	mirrored := mirror.host + "/hub/library/x:1.0"
	testfixture.PushImage(t, mirrored, img)
	upstreamBefore, mirrorBefore := upstream.requests.Load(), mirror.requests.Load()

	dir := t.TempDir()
	var log bytes.Buffer
	mirrors := map[string]string{upstream.host: mirror.host + "/hub/"}
	got, err := newMirroredCache(t, dir, false, mirrors, &log).Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := testfixture.Digest(t, img)
	if got.Ref != ref || got.Digest != want {
		t.Errorf("image %s %s, want %s %s (the mirror's)", got.Ref, got.Digest, ref, want)
	}
	if err := validate.Image(got.Image); err != nil {
		t.Errorf("mirrored image invalid: %v", err)
	}
	if n := upstream.requests.Load() - upstreamBefore; n != 0 {
		t.Errorf("upstream got %d requests, want 0", n)
	}
	if n := mirror.requests.Load() - mirrorBefore; n == 0 {
		t.Error("the mirror got no request")
	}
	if !strings.Contains(log.String(), "mirror="+mirrored) {
		t.Errorf("log does not name the mirror %s:\n%s", mirrored, log.String())
	}

	// The record is the upstream reference's: offline finds it by that name.
	if _, err := os.Stat(recordPath(dir, "refs", ref)); err != nil {
		t.Errorf("no record under the upstream reference: %v", err)
	}
	off, err := newMirroredCache(t, dir, true, mirrors, nil).Image(context.Background(), ref)
	if err != nil || off.Ref != ref || off.Digest != want {
		t.Errorf("offline: %+v, %v; want %s %s", off, err, ref, want)
	}

	// A pinned pull into an empty cache goes by digest to the mirror too.
	upstreamBefore = upstream.requests.Load()
	pinned, err := newMirroredCache(t, t.TempDir(), false, mirrors, nil).PinnedImage(context.Background(), ref, Pin{Digest: want})
	if err != nil || pinned.Ref != ref || pinned.Digest != want {
		t.Errorf("pinned through the mirror: %+v, %v; want %s %s", pinned, err, ref, want)
	}
	if n := upstream.requests.Load() - upstreamBefore; n != 0 {
		t.Errorf("pinned pull: upstream got %d requests, want 0", n)
	}

	// A failure names the mirror asked.
	_, err = newMirroredCache(t, t.TempDir(), false, mirrors, nil).Image(context.Background(), upstream.host+"/library/x:2.0")
	if err == nil || !strings.HasPrefix(err.Error(), "image "+upstream.host+"/library/x:2.0 (mirror "+mirror.host+"/hub/library/x:2.0): GET http://"+mirror.host+"/v2/hub/library/x/manifests/2.0:") {
		t.Errorf("missing tag: err = %v", err)
	}
}

// TestRegistryMirrorDockerHub checks a mirror for docker.io (however the
// operator writes it) serves Docker Hub references in every spelling.
// loopbackOnly fails the test on any request that is not to the mirror.
func TestRegistryMirrorDockerHub(t *testing.T) {
	mirror := newRegistry(t)
	img := randomImage(t)
	testfixture.PushImage(t, mirror.host+"/library/nginx:1.27", img)
	want := testfixture.Digest(t, img)
	for _, upstream := range []string{"docker.io", "index.docker.io"} {
		c := newMirroredCache(t, t.TempDir(), false, map[string]string{upstream: mirror.host}, nil)
		for _, ref := range []string{"nginx:1.27", "docker.io/library/nginx:1.27", "index.docker.io/library/nginx:1.27"} {
			got, err := c.Image(context.Background(), ref)
			if err != nil {
				t.Errorf("mirror for %s: %s: %v", upstream, ref, err)
				continue
			}
			if got.Ref != ref || got.Digest != want {
				t.Errorf("mirror for %s: %s gave %s %s, want %s", upstream, ref, got.Ref, got.Digest, want)
			}
		}
	}
}

func TestRegistryMirrorsInvalid(t *testing.T) {
	tests := []struct {
		mirrors map[string]string
		want    string
	}{
		{map[string]string{"docker.io": "http://127.0.0.1:5000"},
			`cache: registry mirror for docker.io: "http://127.0.0.1:5000": write host[:port][/path], without a scheme`},
		{map[string]string{"docker.io": "127.0.0.1:5000", "index.docker.io": "127.0.0.1:5001"},
			`cache: registry mirrors for "docker.io" and "index.docker.io": both name registry index.docker.io`},
		{map[string]string{"docker.io/library": "127.0.0.1:5000"},
			`cache: registry mirror for "docker.io/library": upstream is not a registry host[:port]: registries must be valid RFC 3986 URI authorities: docker.io/library`},
		{map[string]string{"quay.io": "127.0.0.1:5000/Quay"},
			"cache: registry mirror for quay.io: \"127.0.0.1:5000/Quay\": repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Quay"},
		{map[string]string{"quay.io": ""},
			`cache: registry mirror for quay.io: "": strict validation requires the registry to be explicitly defined`},
	}
	for _, tt := range tests {
		_, err := New(Options{Dir: t.TempDir(), RegistryMirrors: tt.mirrors})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: err = %v\nwant %s", tt.mirrors, err, tt.want)
		}
	}
}
