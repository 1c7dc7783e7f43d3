package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// assertPayloadDescribed checks the payload artifact archive against the
// report and the descriptor in the OS image img: the same size and sha256,
// and the digest of the archive's own index.json as its index.
func assertPayloadDescribed(t *testing.T, rep *report.Report, img string, archive []byte) {
	t.Helper()
	sum := sha256.Sum256(archive)
	index := "sha256:" + hex.EncodeToString(sha256Of(t, tarEntry(t, archive, "index.json")))
	a := artifact(rep, PayloadKind)
	if a.Path != PayloadName("lab") || a.Size != int64(len(archive)) || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("payload artifact %+v, want %s of %d bytes, sha256 %x", a, PayloadName("lab"), len(archive), sum)
	}
	if d, ok := a.Details.(PayloadDetails); !ok || d.Index != index || d.Format != payload.ImagePayloadFormat || d.Images != 7 {
		t.Errorf("payload artifact details %+v, want index %s, format %d, 7 images", a.Details, index, payload.ImagePayloadFormat)
	}
	var desc payload.ImagePayload
	if err := json.Unmarshal(catFromImage(t, img, payload.ImagePayloadDescriptor), &desc); err != nil {
		t.Fatalf("descriptor: %v", err)
	}
	wantImages := []string{"docker.io/library/busybox:1.36", "docker.io/library/nginx:1.27.0", "docker.io/library/postgres:16.4",
		"docker.io/library/redis:7.2", "ghcr.io/example/setup:2.0", "ghcr.io/example/widget:3.1", "quay.io/example/backup:3.1"}
	if desc.Format != payload.ImagePayloadFormat || desc.Index != index || desc.SHA256 != a.SHA256 || desc.Size != a.Size ||
		!slices.Equal(desc.Images, wantImages) || !slices.Equal(desc.Registries, []string{"docker.io", "ghcr.io", "quay.io"}) {
		t.Errorf("descriptor in the OS image %+v\nwant format %d, index %s, sha256 %s, size %d, images %v, registries docker.io ghcr.io quay.io",
			desc, payload.ImagePayloadFormat, index, a.SHA256, a.Size, wantImages)
	}
}

// newNetbootFixture is newPlatformFixture building the PXE bundle alone:
// of the formats, the cheapest to build, for tests of the payload.
func newNetbootFixture(t *testing.T) *platformFixture {
	f := newPlatformFixture(t)
	f.site.Outputs = site.Outputs{PXE: &site.PXEOutput{}}
	f.site.SetDefaults()
	return f
}

func TestPayloadIsReusedFromTheCacheByDigest(t *testing.T) {
	f := newNetbootFixture(t)
	first, firstLog := buildRecording(t, f, "a")
	second, secondLog := buildRecording(t, f, "b")
	if !strings.Contains(firstLog, "writing image payload") || strings.Contains(firstLog, "reused") {
		t.Errorf("first build did not write the payload:\n%s", firstLog)
	}
	if !strings.Contains(secondLog, "image payload reused from the cache") || strings.Contains(secondLog, "writing image payload") {
		t.Errorf("second build did not reuse the payload:\n%s", secondLog)
	}
	a, b := artifact(first, PayloadKind), artifact(second, PayloadKind)
	if a.SHA256 == "" || a.SHA256 != b.SHA256 || a.Size != b.Size {
		t.Errorf("payload artifacts differ: %+v and %+v", a, b)
	}
	// One file: the cache's entry, linked into both output directories.
	entry := cachedPayloads(t, f.opts.CacheDir)
	if len(entry) != 1 {
		t.Fatalf("cache holds payloads %v, want one", entry)
	}
	kept := stat(t, entry[0])
	for _, out := range []string{"a", "b"} {
		st := stat(t, filepath.Join(f.work, out, PayloadName("lab")))
		if st.Ino != kept.Ino || st.Dev != kept.Dev {
			t.Errorf("%s's payload is inode %d, the cache's %d: not a link", out, st.Ino, kept.Ino)
		}
	}
	if kept.Nlink != 3 || kept.Mode&0o777 != 0o444 {
		t.Errorf("cache entry has %d links and mode %o, want 3 and 0444", kept.Nlink, kept.Mode&0o777)
	}
	if _, err := os.Stat(filepath.Join(f.opts.CacheDir, cache.PayloadsDir, strings.TrimSuffix(filepath.Base(entry[0]), ".tar")+".json")); err != nil {
		t.Errorf("cache entry has no record: %v", err)
	}
}

func TestTruncatedCachePayloadIsWrittenAgain(t *testing.T) {
	f := newNetbootFixture(t)
	first, _ := buildRecording(t, f, "a")
	entry := cachedPayloads(t, f.opts.CacheDir)
	if len(entry) != 1 {
		t.Fatalf("cache holds payloads %v, want one", entry)
	}
	size := artifact(first, PayloadKind).Size
	// Truncating the entry truncates the first build's artifact too: it is
	// the same file.
	if err := os.Truncate(entry[0], size-512); err != nil {
		t.Fatal(err)
	}
	second, log := buildRecording(t, f, "b")
	if !strings.Contains(log, "removing damaged cache payload") || !strings.Contains(log, "writing image payload") {
		t.Errorf("the damaged entry was not written again:\n%s", log)
	}
	b := artifact(second, PayloadKind)
	if b.SHA256 != artifact(first, PayloadKind).SHA256 || b.Size != size {
		t.Errorf("rewritten payload %+v, want the first build's sha256 and %d bytes", b, size)
	}
	if n, sum, err := report.HashFile(filepath.Join(f.work, "b", PayloadName("lab"))); err != nil || n != size || sum != b.SHA256 {
		t.Errorf("rewritten payload on disk: %d bytes, sha256 %s (%v); want %d, %s", n, sum, err, size, b.SHA256)
	}
}

// TestFailedPayloadWriteLeavesNoPayload damages a layer in the cache in
// place (same size, so the locked build's size check passes it) and
// builds: the payload write finds the damage, and the build fails naming
// the blob, leaving no payload in the cache or the output directory and
// the damaged blob removed, so that the next build fetches it again.
func TestFailedPayloadWriteLeavesNoPayload(t *testing.T) {
	f := newNetbootFixture(t)
	lockFixture(t, f)
	d, _ := f.shared.Digest()
	blob := filepath.Join(f.opts.CacheDir, "blobs", "sha256", d.Hex)
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = f.build(t, "out")
	for _, want := range []string{"image payload: ", "blob " + d.String() + ": content is sha256:", "removed; the next build fetches it again"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
	assertEmpty(t, filepath.Join(f.work, "out"))
	assertEmpty(t, filepath.Join(f.opts.CacheDir, cache.PayloadsDir))
	if tmp, _ := filepath.Glob(filepath.Join(f.opts.CacheDir, "tmp", "payload-*")); len(tmp) != 0 {
		t.Errorf("failed build left %v", tmp)
	}
	if _, err := os.Stat(blob); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("damaged blob still in the cache: %v", err)
	}
	if _, err := f.build(t, "out"); err != nil {
		t.Errorf("the next (online) build: %v", err)
	}
}

func TestNetbootBundlesDoNotCarryThePayload(t *testing.T) {
	for _, b := range []string{"undionly.kpxe", "ipxe.efi"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/ipxe", b)); err != nil {
			t.Fatalf("needs the host's iPXE binaries (Debian package ipxe, `make deps`): %v", err)
		}
	}
	f := newNetbootFixture(t)
	f.site.Outputs.PXE.ServeFromInitServer = true
	rep, err := f.build(t, "out")
	if err != nil {
		t.Fatal(err)
	}
	p := artifact(rep, PayloadKind)
	if p.Size == 0 {
		t.Fatalf("no payload artifact: %+v", rep.Artifacts)
	}
	err = filepath.WalkDir(filepath.Join(f.work, "out", "pxe"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, sum, err := report.HashFile(path); err != nil || sum == p.SHA256 || strings.HasSuffix(path, ".tar") {
			t.Errorf("PXE bundle file %s: is the payload, or a tar (%v)", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range unsquashfsLong(t, filepath.Join(f.work, "out", "lab.squashfs")) {
		if strings.HasPrefix(name, payload.PXEDir+"/") && strings.HasSuffix(name, ".tar") {
			t.Errorf("the bundle in the OS image has %s", name)
		}
	}
}

func TestLinkOrCopyCopiesAcrossFilesystems(t *testing.T) {
	src := filepath.Join(t.TempDir(), "payload.tar")
	content := bytes.Repeat([]byte("payload "), 1<<16)
	if err := os.WriteFile(src, content, 0o444); err != nil {
		t.Fatal(err)
	}
	other, err := os.MkdirTemp("/dev/shm", "linkorcopy-")
	if err != nil {
		t.Fatalf("needs a tmpfs at /dev/shm: %v", err)
	}
	defer os.RemoveAll(other)
	if stat(t, other).Dev == stat(t, src).Dev {
		t.Fatalf("/dev/shm and %s are one filesystem: nothing to copy across", filepath.Dir(src))
	}
	dst := filepath.Join(other, "payload.tar")
	if err := linkOrCopy(src, dst, int64(len(content))); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, content) || stat(t, dst).Mode&0o777 != 0o444 {
		t.Errorf("copy: %d bytes, mode %o (%v); want %d bytes, 0444", len(got), stat(t, dst).Mode&0o777, err, len(content))
	}
	// A source shorter than promised fails and leaves nothing.
	if err := linkOrCopy(src, dst+".short", int64(len(content))+1); err == nil || !strings.Contains(err.Error(), "copied") {
		t.Errorf("short source: %v, want an error saying what was copied", err)
	}
	if _, err := os.Stat(dst + ".short"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed copy left its file: %v", err)
	}
}

// buildRecording builds f into out and returns the report and the build's
// log lines.
func buildRecording(t *testing.T, f *platformFixture, out string) (*report.Report, string) {
	t.Helper()
	log := &timelineHandler{start: time.Now()}
	f.opts.Logger = slog.New(log)
	defer func() { f.opts.Logger = nil }()
	rep, err := f.build(t, out)
	if err != nil {
		t.Fatal(err)
	}
	return rep, log.String()
}

// lockFixture resolves f into its cache and makes its builds locked to
// what that resolved.
func lockFixture(t *testing.T, f *platformFixture) {
	t.Helper()
	c, err := OpenCache(f.site, cache.Options{Dir: f.opts.CacheDir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(t.Context(), f.site, ResolveOptions{Cache: c, Catalog: f.opts.Catalog})
	if err != nil {
		t.Fatal(err)
	}
	f.opts.Lock, f.opts.LockPath, f.opts.Locked = res.Lock, filepath.Join(f.work, "site.lock"), true
}

func artifact(r *report.Report, kind string) report.Artifact {
	for _, a := range r.Artifacts {
		if a.Kind == kind {
			return a
		}
	}
	return report.Artifact{}
}

func cachedPayloads(t *testing.T, cacheDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(cacheDir, cache.PayloadsDir, "*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t)
}

func sha256Of(t *testing.T, data []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	return sum[:]
}

// tarEntry reads the regular file name from an archive in memory.
func tarEntry(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("archive has no %s: %v", name, err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}
