package charts

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

func newCache(t *testing.T) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: t.TempDir(), Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// siteValues override app's nginx tag.
var siteValues = map[string]any{"image": map[string]any{"tag": "1.27.0"}}

var wantImages = []ImageUse{
	{Image: "docker.io/library/busybox:1.36", From: []string{
		"chart app: Deployment apps/web initContainer wait",
		"chart app: annotation helm.sh/images"}},
	{Image: "docker.io/library/nginx:1.27.0", From: []string{
		"chart app: Deployment apps/web container nginx"}},
	{Image: "docker.io/library/postgres:16.4", From: []string{
		"chart db: CronJob apps/db-backup container backup",
		"chart db: StatefulSet apps/db container postgres"}},
	{Image: "ghcr.io/example/migrate:2.0", From: []string{
		"chart app: hook Job apps/migrate container migrate"}},
	{Image: "ghcr.io/example/widget:3.1", From: []string{
		"chart app: Widget apps/w field spec.runtime.image"}},
}

func renderImages(t *testing.T, p *Pulled) []ImageUse {
	t.Helper()
	r, err := Render(p.Chart, RenderOptions{ReleaseName: "app", Namespace: "apps", Values: siteValues, KubeVersion: "v1.33.5"})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := Images(p.Chart, r)
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

func TestPullHTTPRenderImages(t *testing.T) {
	url, sum := chartRepo(t, testChart(), "")
	p, err := Pull(context.Background(), Source{Repo: url, Name: "app", Version: "1.0.0"}, PullOptions{Store: newCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA256 != "sha256:"+sum || p.Name != "app" || p.Version != "1.0.0" || p.ManifestDigest != "" {
		t.Errorf("pulled %s %s %s manifest %q, want app 1.0.0 sha256:%s", p.Name, p.Version, p.SHA256, p.ManifestDigest, sum)
	}
	if filepath.Base(p.Path) != sum {
		t.Errorf("path %s is not the cache entry %s", p.Path, sum)
	}
	if got := renderImages(t, p); !reflect.DeepEqual(got, wantImages) {
		t.Errorf("images:\n got %#v\nwant %#v", got, wantImages)
	}
}

func TestPullOCIRenderImages(t *testing.T) {
	host := testrepo.Registry(t).Host
	sum, pushed := pushChart(t, host+"/charts/app:1.0.0")
	src := Source{Repo: "oci://" + host + "/charts", Name: "app", Version: "1.0.0"}
	store := newCache(t)
	p, err := Pull(context.Background(), src, PullOptions{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if p.ManifestDigest != pushed || p.SHA256 != "sha256:"+sum || p.Name != "app" || p.Version != "1.0.0" {
		t.Errorf("pulled %s %s %s manifest %s, want app 1.0.0 sha256:%s manifest %s",
			p.Name, p.Version, p.SHA256, p.ManifestDigest, sum, pushed)
	}
	if filepath.Base(p.Path) != sum {
		t.Errorf("path %s is not the cache entry %s", p.Path, sum)
	}
	if got := renderImages(t, p); !reflect.DeepEqual(got, wantImages) {
		t.Errorf("images:\n got %#v\nwant %#v", got, wantImages)
	}

	missing := Source{Repo: src.Repo, Name: "app", Version: "2.0.0"}
	_, err = Pull(context.Background(), missing, PullOptions{Store: store})
	want := "chart app 2.0.0: image " + host + "/charts/app:2.0.0: GET http://" + host +
		"/v2/charts/app/manifests/2.0.0: MANIFEST_UNKNOWN: Unknown manifest"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}

	// The lock pins the archive (the chart layer), not the manifest: a
	// lock naming the manifest digest is refused, naming both.
	for _, d := range []string{"sha256:" + strings.Repeat("0", 64), pushed} {
		src.Digest = d
		_, err = Pull(context.Background(), src, PullOptions{Store: newCache(t)})
		want = "chart app 1.0.0: " + host + "/charts/app:1.0.0 (manifest " + pushed + ") holds archive sha256:" + sum +
			", the lock expects " + d
		if err == nil || err.Error() != want {
			t.Errorf("error %v\nwant %s", err, want)
		}
	}
	// A cache that holds the manifest finds it by that digest, and says
	// it is no chart archive.
	_, err = Pull(context.Background(), src, PullOptions{Store: store})
	want = "chart app 1.0.0: the lock pins " + pushed + ", which in the cache is not a chart archive: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v\nwant %s...", err, want)
	}
}

func TestPullErrors(t *testing.T) {
	bad := strings.Repeat("ab", 32)
	badURL, sum := chartRepo(t, testChart(), bad)
	goodURL, _ := chartRepo(t, testChart(), "")
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"digest mismatch", Source{Repo: badURL, Name: "app", Version: "1.0.0"},
			"chart app 1.0.0: fetch " + badURL + "/app-1.0.0.tgz: sha256 mismatch: expected sha256:" + bad + ", got sha256:" + sum},
		{"missing chart", Source{Repo: goodURL, Name: "nope", Version: "1.0.0"},
			"chart nope not found in " + goodURL + "/index.yaml"},
		{"missing version", Source{Repo: goodURL, Name: "app", Version: "9.9.9"},
			"chart app version 9.9.9 not found in " + goodURL + "/index.yaml (it has 1.0.0)"},
		{"lock disagrees with index", Source{Repo: goodURL, Name: "app", Version: "1.0.0", Digest: "sha256:" + bad},
			"chart app 1.0.0: " + goodURL + "/index.yaml gives digest sha256:" + sum + ", the lock expects sha256:" + bad},
		{"missing index", Source{Repo: goodURL + "/nothere", Name: "app", Version: "1.0.0"},
			"chart app 1.0.0: fetch " + goodURL + "/nothere/index.yaml (1 attempts): HTTP 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Pull(context.Background(), tt.src, PullOptions{Store: newCache(t)})
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v\nwant %s", err, tt.want)
			}
		})
	}
}
