package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

func pushRandom(t *testing.T, ref string) v1.Hash {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	testfixture.PushImage(t, ref, img)
	return testfixture.Digest(t, img)
}

// TestLockPinsTheBaseAndLockedBuildCatchesAMovedTag: `builder lock` pins
// os.base.image (and the images of the site's local chart, which it
// packages to render); once the base's tag moves, `builder build --locked`
// fails naming the field, the tag and both digests, and `builder lock`
// says what changed. The images and the base come from
// go-containerregistry's registry on 127.0.0.1.
func TestLockPinsTheBaseAndLockedBuildCatchesAMovedTag(t *testing.T) {
	reg := testrepo.Registry(t)
	base := reg.Host + "/bases/debian:12"
	first := pushRandom(t, base)
	pushRandom(t, reg.Host+"/seldonio/mlserver:1.3.5-sklearn") // what tiny-model-server runs
	dir := t.TempDir()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"k3s": "stand-in k3s", "k3s-airgap-images-amd64.tar.zst": "stand-in archive"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: appliance/v1alpha1
kind: Site
metadata: {name: lab}
os: {base: {image: `+base+`}}
k3s: {binary: `+filepath.Join(dir, "k3s")+`, airgap: `+filepath.Join(dir, "k3s-airgap-images-amd64.tar.zst")+`}
charts:
  - {name: iris-model, namespace: models, path: `+filepath.Join(repo, "configs", "charts", "tiny-model-server")+`}
mirrors: {registries: {docker.io: `+reg.Host+`}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	lockPath := filepath.Join(dir, "site.lock")
	out, stderr, err := execute(t, "lock", "--config", config, "--cache", cache)
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	if want := "\nwrote " + lockPath + ": 0 charts, 1 images, base image " + base + "\n"; !strings.HasSuffix(out, want) {
		t.Errorf("lock said %q, want %q", out, want)
	}
	l, err := lock.Read(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	if l.Base == nil || *l.Base != (lock.Image{Ref: base, Manifest: first.String()}) || len(l.Images) != 1 ||
		l.Images[0].Ref != "docker.io/seldonio/mlserver:1.3.5-sklearn" {
		t.Errorf("lock: base %+v, images %+v", l.Base, l.Images)
	}

	moved := pushRandom(t, base)
	_, _, err = execute(t, "build", "--config", config, "--cache", cache, "--output", filepath.Join(dir, "out"), "--agent-dir", dir, "--locked")
	want := "--locked: os.base.image " + base + " has moved since " + lockPath + " was written: the lock pins " + first.String() +
		", the registry now gives " + moved.String()
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("build --locked: %v\nwant it to start with %s", err, want)
	}

	out, stderr, err = execute(t, "lock", "--config", config, "--cache", cache)
	if want := "changed: base os.base.image " + base + ": lock has manifest " + first.String() + ", config needs manifest " + moved.String() + "\n"; err != nil || !strings.HasPrefix(out, want) {
		t.Errorf("lock again: %v %s\n%s\nwant it to start with %s", err, stderr, out, want)
	}
}
