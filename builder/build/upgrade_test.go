package build

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// builtBundle is an upgrade bundle a test build wrote, opened with the
// public key of the OS image it was built with.
type builtBundle struct {
	out      string // output directory
	dir      string // bundle directory
	manifest upgradebundle.Manifest
	// pub and release are the OS image's own (PublicKeyPath, ReleasePath).
	pub     ed25519.PublicKey
	release upgradebundle.Release
}

// openBuiltBundle reads the key and release out of the OS image in out
// (with rdsquashfs: tools nobody here wrote) and opens site's bundle with
// them.
func openBuiltBundle(t *testing.T, out, siteName string) builtBundle {
	t.Helper()
	img := filepath.Join(out, siteName+".squashfs")
	bb := builtBundle{out: out, dir: filepath.Join(out, upgradebundle.DirName(siteName))}
	var err error
	if bb.pub, err = upgradebundle.ParsePublicKey(catFromImage(t, img, upgradebundle.PublicKeyPath)); err != nil {
		t.Fatal(err)
	}
	if bb.release, err = upgradebundle.ParseRelease(catFromImage(t, img, upgradebundle.ReleasePath)); err != nil {
		t.Fatal(err)
	}
	manifest, sig := bb.read(t, upgradebundle.ManifestFile), bb.read(t, upgradebundle.SignatureFile)
	if bb.manifest, err = upgradebundle.Open(bb.pub, manifest, sig); err != nil {
		t.Fatalf("the bundle does not verify with its own image's key: %v", err)
	}
	return bb
}

func (bb builtBundle) read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bb.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// files are the manifest's files.
func (bb builtBundle) files() []upgradebundle.File {
	files := []upgradebundle.File{bb.manifest.OSImage, bb.manifest.Kernel, bb.manifest.Initrd}
	if bb.manifest.Payload != nil {
		files = append(files, *bb.manifest.Payload)
	}
	return files
}

// TestUpgradeBundleOfAPlatformSite builds a site with K3s (a generated
// CA), a platform (an image payload) and a raw disk, then again into the
// same output directory as a newer release.
func TestUpgradeBundleOfAPlatformSite(t *testing.T) {
	f := newPlatformFixture(t)
	f.site.Metadata.Version = "1.2.0"
	rep, err := f.build(t, "out")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.work, "out")
	bb := openBuiltBundle(t, out, "lab")
	m := bb.manifest

	if m.Release != bb.release {
		t.Errorf("bundle release %+v, the image's %+v", m.Release, bb.release)
	}
	payloadArt := artifact(rep, PayloadKind)
	want := upgradebundle.Release{Site: "lab", SiteID: upgradebundle.SiteID("lab"), Version: "1.2.0",
		Cluster: rep.ClusterIdentity.CAHash, KernelVersion: "6.1.0-test", Payload: payloadArt.Details.(PayloadDetails).Index}
	if want.Cluster == "" || want.Payload == "" || m.Release != want {
		t.Errorf("release %+v\nwant %+v (the report's CA hash and payload index)", m.Release, want)
	}
	if !slices.Equal(m.Cmdline, f.site.OS.Cmdline) {
		t.Errorf("manifest cmdline %q, want the site's %q", m.Cmdline, f.site.OS.Cmdline)
	}

	// Each file is the artifact itself (a link: no byte copied) and has the
	// size and sha256 the manifest says.
	artifacts := map[string]string{upgradebundle.OSImageFile: "lab.squashfs", upgradebundle.KernelFile: "lab.vmlinuz",
		upgradebundle.InitrdFile: "lab.initrd", upgradebundle.PayloadFile: PayloadName("lab")}
	if len(bb.files()) != 4 {
		t.Fatalf("manifest files %+v, want 4 (with the payload)", bb.files())
	}
	for _, file := range bb.files() {
		p := filepath.Join(bb.dir, file.Name)
		if n, sum, err := report.HashFile(p); err != nil || n != file.Size || sum != file.SHA256 {
			t.Errorf("%s: %d bytes, sha256 %s (%v); the manifest says %d, %s", file.Name, n, sum, err, file.Size, file.SHA256)
		}
		if !sameInode(t, p, filepath.Join(out, artifacts[file.Name])) {
			t.Errorf("%s is not a link to %s", file.Name, artifacts[file.Name])
		}
	}

	// The report lists it, with the release and every file.
	a := artifact(rep, UpgradeKind)
	if n, sum, err := report.HashFile(filepath.Join(out, a.Path)); err != nil || a.Path != "lab-upgrade/manifest.json" || n != a.Size || sum != a.SHA256 {
		t.Errorf("upgrade artifact %+v: manifest.json has %d bytes, sha256 %s (%v)", a, n, sum, err)
	}
	d, ok := a.Details.(UpgradeDetails)
	if !ok || d.Dir != "lab-upgrade" || d.Release != want || len(d.Files) != 5 || d.Files[0].Name != upgradebundle.SignatureFile ||
		!slices.Equal(d.Files[1:], bb.files()) {
		t.Errorf("upgrade artifact details %+v", a.Details)
	}
	if n, sum, err := report.HashFile(filepath.Join(bb.dir, upgradebundle.SignatureFile)); err != nil || !ok || n != d.Files[0].Size || sum != d.Files[0].SHA256 {
		t.Errorf("manifest.sig: %d bytes, sha256 %s (%v); the report says %+v", n, sum, err, d.Files)
	}

	// The private key is kept 0600 in the secrets directory, and only there.
	keyPath := filepath.Join(out, SecretsDirName, "lab", UpgradeKeyName)
	keyPEM := readKey(t, keyPath)
	if !strings.Contains(unsquashfsList(t, filepath.Join(out, "lab.squashfs")), upgradebundle.PublicKeyPath) {
		t.Error("the OS image lacks the public key")
	}

	// A later build of the same site into the same output directory signs
	// with the same key, and its bundle replaces the first.
	f.site.Metadata.Version = "1.3.0"
	if _, err := f.build(t, "out"); err != nil {
		t.Fatal(err)
	}
	next := openBuiltBundle(t, out, "lab")
	if !next.pub.Equal(bb.pub) || string(readKey(t, keyPath)) != string(keyPEM) {
		t.Error("the second build has another signing key")
	}
	if next.manifest.Release.Version != "1.3.0" {
		t.Errorf("the second build's bundle is of release %s, want 1.3.0", next.manifest.Release.Version)
	}
	if err := next.manifest.Accept(bb.release, false); err != nil {
		t.Errorf("a node of the first build refuses the second's bundle: %v", err)
	}
	if err := m.Accept(next.release, false); err == nil || !strings.Contains(err.Error(), "older than the running 1.3.0") {
		t.Errorf("a node of the second build takes the first's bundle: %v", err)
	}
}

// TestUpgradeBundleOfAnotherSiteIsRefused builds two sites (no K3s) into
// two output directories: each signs with its own key, so neither's nodes
// take the other's bundle.
func TestUpgradeBundleOfAnotherSiteIsRefused(t *testing.T) {
	work := t.TempDir()
	base := filepath.Join(work, "base.tar")
	if err := os.WriteFile(base, fakeBase(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(work, "cache")
	lab := testSite(site.Base{Rootfs: base})
	if _, err := runBuild(t, lab, filepath.Join(work, "a"), cache, false); err != nil {
		t.Fatal(err)
	}
	first := openBuiltBundle(t, filepath.Join(work, "a"), "lab")
	if first.release.Cluster != "" || first.release.Payload != "" || first.release.Version != upgradebundle.DefaultVersion {
		t.Errorf("release of a site without K3s and metadata.version: %+v", first.release)
	}
	other := testSite(site.Base{Rootfs: base})
	other.Metadata.Name, other.Seed = "lab2", "lab2"
	if _, err := runBuild(t, other, filepath.Join(work, "b"), cache, false); err != nil {
		t.Fatal(err)
	}
	second := openBuiltBundle(t, filepath.Join(work, "b"), "lab2")
	if second.pub.Equal(first.pub) {
		t.Fatal("two sites in two output directories share a signing key")
	}
	_, err := upgradebundle.Open(first.pub, second.read(t, upgradebundle.ManifestFile), second.read(t, upgradebundle.SignatureFile))
	if !errors.Is(err, upgradebundle.ErrSignature) {
		t.Errorf("the first site's key opens the second's bundle: %v", err)
	}
	if err := second.manifest.Accept(first.release, true); err == nil || !strings.Contains(err.Error(), "the bundle is for site lab2") {
		t.Errorf("a node of the first site accepts the second's release: %v", err)
	}
}

// TestNoUpgradeBundleWithoutDiskOutputs builds a site netbooted only: its
// image says what it is, but there is no bundle, no key, no public key.
func TestNoUpgradeBundleWithoutDiskOutputs(t *testing.T) {
	f := newNetbootFixture(t)
	rep, err := f.build(t, "out")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.work, "out")
	if a := artifact(rep, UpgradeKind); a.Kind != "" {
		t.Errorf("upgrade artifact %+v", a)
	}
	for _, p := range []string{upgradebundle.DirName("lab"), filepath.Join(SecretsDirName, "lab", UpgradeKeyName)} {
		if _, err := os.Lstat(filepath.Join(out, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a netboot-only build made %s: %v", p, err)
		}
	}
	img := filepath.Join(out, "lab.squashfs")
	if strings.Contains(unsquashfsList(t, img), upgradebundle.PublicKeyPath) {
		t.Error("a netboot-only image carries a bundle key")
	}
	r, err := upgradebundle.ParseRelease(catFromImage(t, img, upgradebundle.ReleasePath))
	if err != nil || r.Site != "lab" || r.Cluster != rep.ClusterIdentity.CAHash || r.Payload != artifact(rep, PayloadKind).Details.(PayloadDetails).Index {
		t.Errorf("release %+v (%v)", r, err)
	}
}

// TestUpgradeBundleOfAnImageHoldingTheAgentToken builds a site whose
// initial server serves PXE with the agent join token: the OS image holds
// the token, and so does the bundle's (the same file, 0600), which the
// report says.
func TestUpgradeBundleOfAnImageHoldingTheAgentToken(t *testing.T) {
	f := newPlatformFixture(t)
	f.site.Outputs.PXE = &site.PXEOutput{ServeFromInitServer: true}
	f.site.SetDefaults()
	rep, err := f.build(t, "out")
	if err != nil {
		t.Fatal(err)
	}
	if a := artifact(rep, "os-image"); a.Secrets != report.SecretsAgentToken {
		t.Fatalf("the fixture's OS image artifact %+v does not hold the agent token", a)
	}
	if a := artifact(rep, UpgradeKind); a.Secrets != report.SecretsAgentToken {
		t.Errorf("upgrade artifact secrets %q, want %q", a.Secrets, report.SecretsAgentToken)
	}
	dir := filepath.Join(f.work, "out", upgradebundle.DirName("lab"))
	for p, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, upgradebundle.OSImageFile): 0o600,
		filepath.Join(dir, upgradebundle.ManifestFile): 0o600, filepath.Join(dir, upgradebundle.SignatureFile): 0o600,
	} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, info.Mode().Perm(), want)
		}
	}
}

// readKey reads a kept signing key, which must be 0600 and parse.
func readKey(t *testing.T, path string) []byte {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %04o, want 0600", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := upgradebundle.ParsePrivateKey(data); err != nil {
		t.Error(err)
	}
	return data
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	x, y := stat(t, a), stat(t, b)
	return x.Ino == y.Ino && x.Dev == y.Dev
}
