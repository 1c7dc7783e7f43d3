package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// platformFixture is a site with K3s (local stand-in files) and the test
// catalog's two components, whose charts come from a chart repository and
// whose images come from a registry, both on 127.0.0.1 and reached through
// the site's mirrors, as an air-gapped factory's would be.
type platformFixture struct {
	work     string
	site     *site.Site
	registry *testrepo.Server
	charts   *testrepo.Server
	opts     Options
	// shared is a layer every image has; each also has one of ownSize.
	shared  v1.Layer
	ownSize int64
	// streamed makes layers testfixture.StreamedLayer (generated as they
	// are read) and pushes them with testfixture.PushStreamed, for
	// payloads of gigabytes; layers counts the layers made, for their seeds.
	streamed bool
	layers   int
}

func newPlatformFixture(t testing.TB) *platformFixture {
	return newPlatformFixtureSized(t, 2048, 1024)
}

// newPlatformFixtureSized is newPlatformFixture with layers of the given
// sizes: one shared by every image, and one of its own per image.
func newPlatformFixtureSized(t testing.TB, sharedSize, ownSize int64) *platformFixture {
	t.Helper()
	f := &platformFixture{work: t.TempDir(), ownSize: ownSize}
	f.registry = testrepo.Registry(t)
	return f.setUp(t, sharedSize)
}

// newPlatformFixtureStreamed is newPlatformFixtureSized for payloads of
// gigabytes: the registry keeps its blobs in files and every layer is
// generated as it is read, so no layer is ever held in memory.
func newPlatformFixtureStreamed(t testing.TB, sharedSize, ownSize int64) *platformFixture {
	t.Helper()
	f := &platformFixture{work: t.TempDir(), ownSize: ownSize, streamed: true}
	f.registry = testrepo.DiskRegistry(t, filepath.Join(f.work, "registry"))
	return f.setUp(t, sharedSize)
}

// setUp writes the stand-in base and K3s, pushes the images and makes the
// site.
func (f *platformFixture) setUp(t testing.TB, sharedSize int64) *platformFixture {
	t.Helper()
	f.charts = testrepo.ChartRepo(t, testrepo.WebChart(), testrepo.DBChart(), testrepo.AppChart())
	base := filepath.Join(f.work, "base.tar")
	bin := filepath.Join(f.work, "k3s")
	airgap := filepath.Join(f.work, "k3s-airgap-images-amd64.tar.zst")
	for p, body := range map[string][]byte{base: fakeBase(t), bin: []byte("#!/bin/sh\necho stand-in k3s\n"), airgap: []byte("stand-in archive")} {
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.shared = f.layer(t, sharedSize)
	f.push(t, "library/busybox:1.36")
	f.push(t, "library/postgres:16.4")
	f.push(t, "example/setup:2.0")
	f.push(t, "example/backup:3.1")
	f.push(t, "library/redis:7.2")
	f.push(t, "example/widget:3.1")
	f.pushIndex(t, "library/nginx:1.27.0")

	f.site = testSite(site.Base{Rootfs: base})
	f.site.K3s = site.K3s{Binary: bin, Airgap: airgap}
	f.site.Platform = site.Platform{"web": {}, "db": {}, "app": {}}
	f.site.Mirrors = site.Mirrors{Registries: map[string]string{
		"docker.io": f.registry.Host, "ghcr.io": f.registry.Host, "quay.io": f.registry.Host}}
	f.opts = Options{CacheDir: filepath.Join(f.work, "cache"), AgentDir: agentDir(t), SourceDateEpoch: 1e9,
		Catalog: testrepo.Catalog(t, f.charts.URL)}
	return f
}

// layer is a new layer of size bytes of random content.
func (f *platformFixture) layer(t testing.TB, size int64) v1.Layer {
	t.Helper()
	f.layers++
	if f.streamed {
		return testfixture.StreamedLayer(t, fmt.Sprintf("layer-%d", f.layers), size)
	}
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// image is a linux/amd64 image of the shared layer and one of its own.
func (f *platformFixture) image(t testing.TB) v1.Image {
	t.Helper()
	own := f.layer(t, f.ownSize)
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	// Appending records the layers' diff IDs in the config, so every
	// image's config differs.
	if img, err = mutate.AppendLayers(img, f.shared, own); err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

func (f *platformFixture) push(t testing.TB, repoTag string) v1.Image {
	img := f.image(t)
	f.pushImage(t, repoTag, img)
	return img
}

func (f *platformFixture) pushImage(t testing.TB, repoTag string, img v1.Image) {
	if f.streamed {
		testfixture.PushStreamed(t, f.registry.Host+"/"+repoTag, img)
	} else {
		testfixture.PushImage(t, f.registry.Host+"/"+repoTag, img)
	}
}

// pushIndex pushes a two-platform index (linux/amd64, linux/arm64). A
// streamed fixture pushes each image's blobs first, in one request each,
// so that the index push finds them there.
func (f *platformFixture) pushIndex(t testing.TB, repoTag string) {
	t.Helper()
	amd64, arm64 := f.image(t), f.image(t)
	if f.streamed {
		f.pushImage(t, repoTag+"-amd64", amd64)
		f.pushImage(t, repoTag+"-arm64", arm64)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	testfixture.PushIndex(t, f.registry.Host+"/"+repoTag, idx)
}

func (f *platformFixture) build(t testing.TB, out string) (*report.Report, error) {
	t.Helper()
	opts := f.opts
	opts.OutputDir = filepath.Join(f.work, out)
	return Run(context.Background(), f.site, opts)
}

func TestPlatformIsBakedWithItsImagesChartsAndManifests(t *testing.T) {
	f := newPlatformFixture(t)
	rep, err := f.build(t, "out")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range rep.Images {
		names = append(names, img.Name+" "+strings.Join(img.Components, ","))
		if !strings.HasPrefix(img.Digest, "sha256:") || img.Size <= 0 {
			t.Errorf("report image %+v: no digest or size", img)
		}
	}
	want := "docker.io/library/busybox:1.36 app,db,web|docker.io/library/nginx:1.27.0 web|docker.io/library/postgres:16.4 db|" +
		"docker.io/library/redis:7.2 app|ghcr.io/example/setup:2.0 web|ghcr.io/example/widget:3.1 app|quay.io/example/backup:3.1 db"
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("report images:\n got %s\nwant %s", got, want)
	}
	if len(rep.Charts) != 3 || rep.Charts[0].Component != "app" || rep.Charts[1].Repo != f.charts.URL {
		t.Errorf("report charts: %+v", rep.Charts)
	}
	img := filepath.Join(f.work, "out", "lab.squashfs")
	listing := unsquashfsList(t, img)
	for _, p := range []string{
		payload.ImagePayloadDescriptor,
		payload.PlatformChartsDir + "/web-1.0.0.tgz", payload.PlatformChartsDir + "/db-0.3.0.tgz",
		payload.PlatformManifestsDir + "/web.yaml", payload.PlatformManifestsDir + "/main-db.yaml",
		payload.PlatformManifestsDir + "/app.yaml", payload.PlatformChartsDir + "/app-2.1.0.tgz",
		payload.RegistriesTemplate, payload.PlatformManifest,
	} {
		if !strings.Contains(listing, "\n"+p+"\n") {
			t.Errorf("OS image lacks %s", p)
		}
	}
	// The platform's images are the payload, not an archive in the OS
	// image: K3s's images directory has only the airgap archive.
	if strings.Contains(listing, "appliance-platform") {
		t.Errorf("OS image still has the platform's image archive:\n%s", listing)
	}
	sums := catFromImage(t, img, payload.K3sImagesManifest)
	if lines := strings.Split(strings.TrimSpace(string(sums)), "\n"); len(lines) != 1 || !strings.HasSuffix(lines[0], "  k3s-airgap-images-amd64.tar.zst") {
		t.Errorf("images.sha256 lists other archives than the airgap one:\n%s", sums)
	}
	var manifest payload.Platform
	if err := json.Unmarshal(catFromImage(t, img, payload.PlatformManifest), &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Components) != 3 || manifest.Components[1].HelmChart != "main-db" ||
		strings.Join(manifest.Components[2].Workloads, ",") != "DaemonSet/web-agent,Deployment/web" {
		t.Errorf("platform manifest: %+v", manifest)
	}
	// The archive holds each blob once: 7 images of one shared layer and
	// one own layer each (nginx's index adds its arm64 manifest nowhere:
	// only linux/amd64 blobs travel), plus manifests, configs and the index.
	tarPath := filepath.Join(f.work, "out", PayloadName("lab"))
	archive, err := os.ReadFile(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	assertPayloadDescribed(t, rep, img, archive)
	blobs := archiveBlobs(t, archive)
	if got, want := len(blobs), 1+7+7+7+1; got != want {
		t.Errorf("archive has %d blobs, want %d (shared layer once)", got, want)
	}
	d, _ := f.shared.Digest()
	if blobs["blobs/sha256/"+d.Hex] != 1 {
		t.Errorf("shared layer appears %d times", blobs["blobs/sha256/"+d.Hex])
	}
}

func TestLockedRebuildIsOfflineAndIgnoresMovedTags(t *testing.T) {
	f := newPlatformFixture(t)
	c, err := OpenCache(f.site, cache.Options{Dir: f.opts.CacheDir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(context.Background(), f.site, ResolveOptions{Cache: c, Catalog: f.opts.Catalog})
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(f.work, "site.lock")
	if err := res.Lock.Write(lockPath, "site.yaml"); err != nil {
		t.Fatal(err)
	}
	pins, err := lock.Read(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	// Resolving again, afresh, gives the same lock, byte for byte.
	again, err := Resolve(context.Background(), f.site, ResolveOptions{Cache: c, Catalog: f.opts.Catalog})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Lock.Write(lockPath+".again", "site.yaml"); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(lockPath)
	second, _ := os.ReadFile(lockPath + ".again")
	if len(first) == 0 || !bytes.Equal(first, second) {
		t.Errorf("a second lock differs from the first:\n%s\n---\n%s", first, second)
	}
	pinned, _ := pins.Image("docker.io/library/postgres:16.4")
	moved := f.push(t, "library/postgres:16.4") // the tag moves after locking
	f.registry.ResetRequests()
	f.charts.ResetRequests()

	f.opts.Lock, f.opts.LockPath, f.opts.Locked = pins, lockPath, true
	rep, err := f.build(t, "out")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.registry.Requests() + f.charts.Requests(); n != 0 {
		t.Errorf("warm locked rebuild made %d requests (registry %d, charts %d), want 0", n, f.registry.Requests(), f.charts.Requests())
	}
	movedDigest, _ := moved.Digest()
	for _, img := range rep.Images {
		if img.Name == "docker.io/library/postgres:16.4" && (img.Digest != pinned.Manifest || img.Digest == movedDigest.String()) {
			t.Errorf("postgres is %s, the lock pins %s (the moved tag is %s)", img.Digest, pinned.Manifest, movedDigest)
		}
	}

	// A config that needs an image the lock does not pin is refused, and
	// the failed build leaves nothing behind.
	f.site.Platform["web"] = site.PlatformComponent{Values: site.Values{"tag": "1.25.4"}}
	f.pushIndex(t, "library/nginx:1.25.4")
	_, err = f.build(t, "refused")
	for _, want := range []string{"--locked: the config needs what " + lockPath + " does not pin",
		"image docker.io/library/nginx:1.25.4 is not in the lock", "image docker.io/library/nginx:1.27.0 is in the lock but no longer needed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
	assertEmpty(t, filepath.Join(f.work, "refused"))
}

func TestMissingImageFailsTheBuildNamingIt(t *testing.T) {
	f := newPlatformFixture(t)
	f.site.Platform["web"] = site.PlatformComponent{Values: site.Values{"tag": "9.9.9"}}
	_, err := f.build(t, "out")
	if err == nil || !strings.Contains(err.Error(), "image docker.io/library/nginx:9.9.9") {
		t.Errorf("error = %v, want one naming docker.io/library/nginx:9.9.9", err)
	}
	assertEmpty(t, filepath.Join(f.work, "out"))
}

// catFromImage reads one file of a squashfs image (rdsquashfs, from
// squashfs-tools-ng, a tool this code did not write).
func catFromImage(t *testing.T, img, path string) []byte {
	t.Helper()
	out, err := exec.Command("rdsquashfs", "-c", path, img).Output()
	if err != nil {
		t.Fatalf("rdsquashfs -c %s %s: %v", path, img, err)
	}
	return out
}

// archiveBlobs counts the entries under blobs/sha256/ of an OCI archive.
func archiveBlobs(t *testing.T, archive []byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	tr := tar.NewReader(strings.NewReader(string(archive)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "blobs/sha256/") && h.Typeflag == tar.TypeReg {
			out[h.Name]++
		}
	}
}
