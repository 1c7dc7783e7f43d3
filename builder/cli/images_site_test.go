package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImagesWhyNamesTheSitesOwnEntries: `builder images` lists the images
// of the site's own chart (a directory), manifest and image list, and
// --why names the site's entry that needs each. Nothing is pulled: the
// chart is local and images are listed, not fetched.
func TestImagesWhyNamesTheSitesOwnEntries(t *testing.T) {
	dir := t.TempDir()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: appliance/v1alpha1
kind: Site
metadata: {name: lab}
os: {base: {rootfs: base.tar}}
k3s: {version: v1.36.2+k3s1}
charts:
  - {name: iris-model, namespace: models, path: `+filepath.Join(repo, "configs", "charts", "tiny-model-server")+`}
manifests: [`+filepath.Join(repo, "configs", "manifests", "model-smoke-test.yaml")+`]
images: [registry.example/team/notebook:1.2]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	out, stderr, err := execute(t, "images", "--config", config, "--cache", cache, "--offline")
	if err != nil {
		t.Fatalf("images: %v\n%s", err, stderr)
	}
	if want := "docker.io/curlimages/curl:8.11.1\ndocker.io/seldonio/mlserver:1.3.5-sklearn\nregistry.example/team/notebook:1.2\n"; out != want {
		t.Errorf("images listed:\n%s\nwant:\n%s", out, want)
	}
	for image, want := range map[string]string{
		"curlimages/curl":                "  site manifest model-smoke-test.yaml: CronJob models/iris-model-smoke-test container probe\n",
		"docker.io/seldonio/mlserver":    "  site chart iris-model, chart tiny-model-server: Deployment iris-model container mlserver\n",
		"registry.example/team/notebook": "  site images\n",
	} {
		out, stderr, err := execute(t, "images", "--config", config, "--cache", cache, "--offline", "--why", image)
		if err != nil || !strings.HasSuffix(out, " is needed by:\n"+want) {
			t.Errorf("images --why %s: %v %s\n%s\nwant it to end with:\n%s", image, err, stderr, out, want)
		}
	}
}
