package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

// fakeBase is a tiny root filesystem with what a build looks for: a kernel
// and its (empty) modules directory, systemd-boot, SSH host keys to strip.
// The "kernel" and "bootloader" are stand-in bytes: these tests check the
// pipeline's plumbing, the e2e tests boot real ones.
func fakeBase(t testing.TB) []byte {
	return fakeBaseWithBuiltins(t, "kernel/fs/squashfs/squashfs.ko\nkernel/fs/overlayfs/overlay.ko\nkernel/fs/ext4/ext4.ko\n")
}

func fakeBaseWithBuiltins(t testing.TB, builtin string) []byte {
	return testfixture.Tar(t,
		testfixture.TarEntry{Name: "boot/"},
		testfixture.TarEntry{Name: "boot/vmlinuz-6.1.0-test", Body: "stand-in kernel"},
		testfixture.TarEntry{Name: "usr/lib/modules/6.1.0-test/modules.dep"},
		testfixture.TarEntry{Name: "usr/lib/modules/6.1.0-test/modules.builtin", Body: builtin},
		testfixture.TarEntry{Name: "usr/lib/systemd/boot/efi/systemd-bootx64.efi", Body: "stand-in systemd-boot"},
		testfixture.TarEntry{Name: "etc/ssh/ssh_host_ed25519_key", Body: "shared secret", Mode: 0o600},
		testfixture.TarEntry{Name: "etc/machine-id", Body: "0123456789abcdef0123456789abcdef\n"},
		testfixture.TarEntry{Name: "sbin/init", Body: "stand-in init", Mode: 0o755},
	)
}

// agentDir holds stand-ins for the node binaries (the pipeline only copies them).
func agentDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"firstboot", "appliance-init"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("stand-in "+n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testSite(base site.Base) *site.Site {
	s := &site.Site{
		APIVersion: site.APIVersion, Kind: site.Kind,
		Metadata: site.Metadata{Name: "lab"},
		OS:       site.OS{Base: base},
		Cluster:  site.Cluster{Nodes: []site.Node{{Hostname: "n1", MAC: "52:54:00:00:00:01", Role: "server", Init: true}}},
		Outputs:  site.Outputs{Raw: &site.RawOutput{}},
	}
	s.SetDefaults()
	return s
}

func runBuild(t *testing.T, s *site.Site, out, cache string, offline bool) (*report.Report, error) {
	t.Helper()
	return Run(context.Background(), s, Options{
		OutputDir: out, CacheDir: cache, Offline: offline, AgentDir: agentDir(t), SourceDateEpoch: 1e9,
	})
}

func input(r *report.Report, name string) report.Input {
	for _, in := range r.Inputs {
		if in.Name == name {
			return in
		}
	}
	return report.Input{}
}

func TestBaseFromURLIsFetchedOnceAndVerified(t *testing.T) {
	base := fakeBase(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write(base)
	}))
	defer srv.Close()
	sum := sha256.Sum256(base)
	want := hex.EncodeToString(sum[:])
	work := t.TempDir()
	cache := filepath.Join(work, "cache")

	s := testSite(site.Base{Rootfs: srv.URL + "/base.tar", SHA256: want})
	rep, err := runBuild(t, s, filepath.Join(work, "a"), cache, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := input(rep, "base"); got.Digest != "sha256:"+want || got.Source != srv.URL+"/base.tar" || got.Size != int64(len(base)) {
		t.Errorf("base input %+v", got)
	}
	kinds := map[string]bool{}
	for _, a := range rep.Artifacts {
		kinds[a.Kind] = true
		if _, err := os.Stat(filepath.Join(work, "a", a.Path)); err != nil {
			t.Errorf("artifact %s: %v", a.Path, err)
		}
	}
	if len(kinds) != 5 || !kinds["raw"] || !kinds["os-image"] || !kinds["kernel"] || !kinds["initramfs"] || !kinds[UpgradeKind] {
		t.Errorf("artifact kinds %v", kinds)
	}
	if _, err := os.Stat(filepath.Join(work, "a", report.FileName)); err != nil {
		t.Error(err)
	}

	// Offline, from the cache: no request, same OS image (with the same
	// secrets: the image carries the site's bundle signing key).
	keepSecrets(t, filepath.Join(work, "a"), filepath.Join(work, "b"))
	if _, err := runBuild(t, s, filepath.Join(work, "b"), cache, true); err != nil {
		t.Fatalf("offline rebuild: %v", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests for the base, want 1", n)
	}
	if !sameBytes(t, filepath.Join(work, "a", "lab.squashfs"), filepath.Join(work, "b", "lab.squashfs")) {
		t.Error("offline rebuild made a different OS image")
	}

	// Offline with an empty cache: a clear error, nothing written.
	_, err = runBuild(t, s, filepath.Join(work, "c"), filepath.Join(work, "empty-cache"), true)
	if err == nil || !strings.Contains(err.Error(), "offline: "+srv.URL+"/base.tar (sha256:"+want+") is not in the cache") {
		t.Errorf("offline miss: %v", err)
	}
	assertEmpty(t, filepath.Join(work, "c"))

	// A wrong checksum fails and names both digests.
	bad := testSite(site.Base{Rootfs: srv.URL + "/base.tar", SHA256: strings.Repeat("0", 64)})
	_, err = runBuild(t, bad, filepath.Join(work, "d"), filepath.Join(work, "cache2"), false)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), strings.Repeat("0", 64)) {
		t.Errorf("checksum mismatch: %v", err)
	}
	assertEmpty(t, filepath.Join(work, "d"))
}

func TestBaseFromOCIImageThroughRegistry(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(fakeBase(t))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(reg.URL, "http://") + "/bases/debian:test"
	testfixture.PushImage(t, ref, img)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	rep, err := runBuild(t, testSite(site.Base{Image: ref}), filepath.Join(work, "out"), filepath.Join(work, "cache"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := input(rep, "base"); got.Digest != digest.String() || got.Source != ref {
		t.Errorf("base input %+v, want digest %s", got, digest)
	}
	listing := unsquashfsList(t, filepath.Join(work, "out", "lab.squashfs"))
	for _, want := range []string{"/boot/vmlinuz-6.1.0-test", nodeconfig.Path, "/usr/local/bin/firstboot"} {
		if !strings.Contains(listing, "\n"+want+"\n") {
			t.Errorf("OS image lacks %s:\n%s", want, listing)
		}
	}
	if strings.Contains(listing, "ssh_host_") {
		t.Error("OS image kept the base's SSH host key")
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed build left %s in %s", e.Name(), dir)
	}
}

func unsquashfsList(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command("unsquashfs", "-l", "-d", "", img).CombinedOutput()
	if err != nil {
		t.Fatalf("unsquashfs -l: %v\n%s", err, out)
	}
	return string(out)
}

func TestKernelWithoutEssentialFilesystemsIsRejected(t *testing.T) {
	work := t.TempDir()
	base := filepath.Join(work, "base.tar")
	if err := os.WriteFile(base, fakeBaseWithBuiltins(t, "kernel/fs/ext4/ext4.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out")
	_, err := runBuild(t, testSite(site.Base{Rootfs: base}), out, filepath.Join(work, "cache"), false)
	want := "kernel 6.1.0-test cannot boot an appliance: it has neither a module nor a built-in for squashfs, overlay"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
	assertEmpty(t, out)
}

func TestK3sFromLocalFilesIsPlacedInTheOSImage(t *testing.T) {
	work := t.TempDir()
	base := filepath.Join(work, "base.tar")
	if err := os.WriteFile(base, fakeBase(t), 0o644); err != nil {
		t.Fatal(err)
	}
	// Stand-ins for a K3s release's binary and airgap archive.
	bin := filepath.Join(work, "k3s")
	airgap := filepath.Join(work, "k3s-airgap-images-amd64.tar.zst")
	for p, body := range map[string]string{bin: "#!/bin/sh\necho stand-in k3s\n", airgap: "stand-in archive"} {
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := testSite(site.Base{Rootfs: base})
	s.K3s = site.K3s{Binary: bin, Airgap: airgap}
	rep, err := runBuild(t, s, filepath.Join(work, "out"), filepath.Join(work, "cache"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"k3s", "k3s-airgap-images"} {
		if in := input(rep, name); !strings.HasPrefix(in.Digest, "sha256:") {
			t.Errorf("report input %q: %+v", name, in)
		}
	}
	listing := unsquashfsList(t, filepath.Join(work, "out", "lab.squashfs"))
	for _, want := range []string{
		"/usr/local/bin/k3s", "/usr/local/bin/kubectl", "/usr/local/bin/crictl", "/usr/local/bin/ctr",
		"/usr/lib/appliance/k3s/images/k3s-airgap-images-amd64.tar.zst",
		"/usr/lib/appliance/k3s/images/images.sha256",
		"/etc/systemd/system/k3s.service", "/etc/systemd/system/k3s-agent.service",
	} {
		if !strings.Contains(listing, "\n"+want+"\n") {
			t.Errorf("OS image lacks %s", want)
		}
	}
	// No images, no payload: neither the artifact nor its descriptor.
	if a := artifact(rep, PayloadKind); a.Kind != "" {
		t.Errorf("a site without images has a payload artifact %+v", a)
	}
	if _, err := os.Stat(filepath.Join(work, "out", PayloadName("lab"))); !os.IsNotExist(err) {
		t.Errorf("a site without images has %s: %v", PayloadName("lab"), err)
	}
	if strings.Contains(listing, payload.ImagePayloadDescriptor) {
		t.Errorf("a site without images has %s in its OS image", payload.ImagePayloadDescriptor)
	}
	// With a baked import cache K3s would unpin the images of the archives
	// it lists (builder/k3s Place).
	if strings.Contains(listing, "/.cache.json\n") {
		t.Errorf("OS image has a K3s import cache:\n%s", listing)
	}
}
