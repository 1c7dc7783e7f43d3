package build

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// baseRelease marks the base pushed when a tag moves (pushBase with it).
const baseRelease = "etc/base-release"

// pushBase pushes a base image of fakeBase's files, and of extra in a
// second layer when given, to ref (in go-containerregistry's in-process
// registry), returning its manifest digest.
func pushBase(t *testing.T, ref string, extra ...testfixture.TarEntry) v1.Hash {
	t.Helper()
	layers := [][]byte{fakeBase(t)}
	if len(extra) > 0 {
		layers = append(layers, testfixture.Tar(t, extra...))
	}
	img := empty.Image
	for _, content := range layers {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	testfixture.PushImage(t, ref, img)
	return testfixture.Digest(t, img)
}

// lockSite does what `builder lock` does: resolve what a lock pins afresh
// and write it to path; it returns the lock read back.
func lockSite(t *testing.T, s *site.Site, cacheDir, path string) *lock.Lock {
	t.Helper()
	c, err := OpenCache(s, cache.Options{Dir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(context.Background(), s, ResolveOptions{Cache: c, LockOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Lock.Write(path, "site.yaml"); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// buildWith builds s into out with the stand-in agents.
func buildWith(t *testing.T, s *site.Site, out string, opts Options) (*report.Report, error) {
	t.Helper()
	opts.OutputDir, opts.AgentDir, opts.SourceDateEpoch = out, agentDir(t), 1e9
	return Run(context.Background(), s, opts)
}

// hasFile reports whether the build's OS image in out holds path.
func hasFile(t *testing.T, out, path string) bool {
	return strings.Contains(unsquashfsList(t, filepath.Join(out, "lab.squashfs")), "\n/"+path+"\n")
}

// TestLockedBaseTag: `builder lock` pins the base image's tag; once the
// tag moves, --locked fails naming the field, the tag and both digests
// (asking the registry, pulling nothing); a build with the lock keeps
// the locked base without a request, offline too; a build without a lock
// follows the tag.
func TestLockedBaseTag(t *testing.T) {
	reg := testrepo.Registry(t)
	ref := reg.Host + "/bases/debian:12"
	first := pushBase(t, ref)
	work := t.TempDir()
	cacheDir := filepath.Join(work, "cache")
	lockPath := filepath.Join(work, "site.lock")
	s := testSite(site.Base{Image: ref})
	pins := lockSite(t, s, cacheDir, lockPath)
	if pins.Base == nil || *pins.Base != (lock.Image{Ref: ref, Manifest: first.String()}) {
		t.Fatalf("lock's base %+v, want %s pinned to %s", pins.Base, ref, first)
	}

	moved := pushBase(t, ref, testfixture.TarEntry{Name: baseRelease, Body: "moved\n"})
	locked := Options{CacheDir: cacheDir, Lock: pins, LockPath: lockPath, Locked: true}
	out := filepath.Join(work, "refused")
	_, err := buildWith(t, s, out, locked)
	want := "--locked: os.base.image " + ref + " has moved since " + lockPath + " was written: the lock pins " + first.String() +
		", the registry now gives " + moved.String() + " (run `builder lock` to take the new base, or set os.base.image to " +
		reg.Host + "/bases/debian@" + first.String() + " to keep the locked one)"
	if err == nil || err.Error() != want {
		t.Errorf("--locked with a moved base tag:\n got %v\nwant %s", err, want)
	}
	assertEmpty(t, out)
	if _, err := os.Stat(filepath.Join(cacheDir, "blobs", "sha256", moved.Hex)); !os.IsNotExist(err) {
		t.Errorf("the refused build pulled the moved base (%v)", err)
	}

	for _, c := range []struct {
		name string
		opts Options
	}{
		{"lock", Options{CacheDir: cacheDir, Lock: pins, LockPath: lockPath}},
		{"locked-offline", Options{CacheDir: cacheDir, Lock: pins, LockPath: lockPath, Locked: true, Offline: true}},
	} {
		reg.ResetRequests()
		out := filepath.Join(work, c.name)
		rep, err := buildWith(t, s, out, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := input(rep, "base").Digest; got != first.String() {
			t.Errorf("%s: base %s, want the locked %s", c.name, got, first)
		}
		if hasFile(t, out, baseRelease) {
			t.Errorf("%s: the OS image is the moved base's", c.name)
		}
		if n := reg.Requests(); n != 0 {
			t.Errorf("%s: %d registry requests, want none (warm cache)", c.name, n)
		}
	}

	out = filepath.Join(work, "unlocked")
	rep, err := buildWith(t, s, out, Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if got := input(rep, "base").Digest; got != moved.String() || !hasFile(t, out, baseRelease) {
		t.Errorf("without a lock: base %s, want the moved tag's %s in the OS image", got, moved)
	}

	_, err = buildWith(t, s, filepath.Join(work, "cold"), Options{CacheDir: filepath.Join(work, "empty-cache"), Lock: pins, Offline: true})
	if want := "base image " + ref + ": offline: image " + ref + " (" + first.String() + ") is not in the cache"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("offline with the lock and an empty cache: %v\nwant it to contain %s", err, want)
	}

	// The locked base's layers are hashed, not only sized: baseos reads
	// them from the cache without checking their digests.
	layer := damageFirstLayer(t, cacheDir, first)
	_, err = buildWith(t, s, filepath.Join(work, "damaged"), Options{CacheDir: cacheDir, Lock: pins, Offline: true})
	if want := "corrupt cache entry " + layer.String(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("offline with a damaged base layer: %v\nwant it to contain %s", err, want)
	}
}

// damageFirstLayer flips a byte of the first layer of manifest in the
// cache at cacheDir, keeping its size, and returns the layer's digest.
func damageFirstLayer(t *testing.T, cacheDir string, manifest v1.Hash) v1.Hash {
	t.Helper()
	blob := func(d v1.Hash) string { return filepath.Join(cacheDir, "blobs", "sha256", d.Hex) }
	raw, err := os.ReadFile(blob(manifest))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	d := m.Layers[0].Digest
	content, err := os.ReadFile(blob(d))
	if err != nil {
		t.Fatal(err)
	}
	content[len(content)/2] ^= 0xff
	if err := os.WriteFile(blob(d), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLockWithoutBaseField: a lock written before the base was pinned is
// read; --locked fails at once saying the base is not in it and how to
// fix that (nothing pulled, the registry not asked); a build without
// --locked resolves the tag as before.
func TestLockWithoutBaseField(t *testing.T) {
	reg := testrepo.Registry(t)
	ref := reg.Host + "/bases/debian:12"
	digest := pushBase(t, ref)
	work := t.TempDir()
	lockPath := filepath.Join(work, "site.lock")
	old := "# Written by `builder lock --config site.yaml`: every download the build makes,\n" +
		"# pinned by digest. Keep it beside the config, under version control.\napiVersion: appliance/v1alpha1\nkind: Lock\n"
	if err := os.WriteFile(lockPath, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	pins, err := lock.Read(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	s := testSite(site.Base{Image: ref})
	reg.ResetRequests()
	out := filepath.Join(work, "refused")
	_, err = buildWith(t, s, out, Options{CacheDir: filepath.Join(work, "cache"), Lock: pins, LockPath: lockPath, Locked: true})
	want := "--locked: the config needs what " + lockPath + " does not pin (run `builder lock` to update it):\n" +
		"  base os.base.image " + ref + " is not in the lock (a lock written before the builder pinned the base has none)"
	if err == nil || err.Error() != want {
		t.Errorf("--locked with an old lock:\n got %v\nwant %s", err, want)
	}
	if n := reg.Requests(); n != 0 {
		t.Errorf("%d registry requests before refusing, want none", n)
	}
	assertEmpty(t, out)

	rep, err := buildWith(t, s, filepath.Join(work, "out"), Options{CacheDir: filepath.Join(work, "cache"), Lock: pins, LockPath: lockPath})
	if err != nil {
		t.Fatal(err)
	}
	if got := input(rep, "base").Digest; got != digest.String() {
		t.Errorf("base %s, want %s", got, digest)
	}
}
