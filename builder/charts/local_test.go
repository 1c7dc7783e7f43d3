package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// chartFiles lists a chart's files as "path: content" lines, subcharts
// under charts/<name>/, sorted, to compare two loads of a chart.
func chartFiles(ch *chart.Chart, prefix string) []string {
	var out []string
	for _, f := range ch.Raw {
		out = append(out, prefix+f.Name+": "+string(f.Data))
	}
	for _, dep := range ch.Dependencies() {
		out = append(out, chartFiles(dep, prefix+"charts/"+dep.Name()+"/")...)
	}
	slices.Sort(out)
	return out
}

// TestLoadLocalDirAsHelm: a chart directory loads as Helm's own
// loader.LoadDir loads it (.helmignore, the default templates/.?* rule, the
// vendored subchart), on a tree LoadDir is safe on.
func TestLoadLocalDirAsHelm(t *testing.T) {
	dir := rankerDir(t, map[string]string{"templates/.scratch.yaml": "{{ fail \"a dot file in templates/ was rendered\" }}"})
	ch, err := LoadLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	helm, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, want := chartFiles(ch, ""), chartFiles(helm, "")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files\n got %q\nwant %q (Helm's LoadDir)", got, want)
	}
	if !reflect.DeepEqual(ch.Metadata, helm.Metadata) || !reflect.DeepEqual(ch.Values, helm.Values) {
		t.Errorf("metadata or values differ from Helm's LoadDir:\n%+v %v\n%+v %v", ch.Metadata, ch.Values, helm.Metadata, helm.Values)
	}
	for _, ignored := range []string{"templates/deployment.yaml.bak", "notes/design.md", "templates/.scratch.yaml"} {
		for _, f := range got {
			if strings.HasPrefix(f, ignored+":") {
				t.Errorf("%s is loaded; .helmignore or Helm's default rule leaves it out", ignored)
			}
		}
	}
	if deps := ch.Dependencies(); len(deps) != 1 || deps[0].Name() != "cache" {
		t.Errorf("subcharts %v, want the vendored cache", deps)
	}
}

// packageTwice packages the chart directory dir with modTime into two
// fresh directories, touching every file's times and modes in between,
// and returns both.
func packageTwice(t *testing.T, dir string, modTime time.Time) (*Pulled, *Pulled) {
	t.Helper()
	first, err := PackageLocal(dir, t.TempDir(), modTime)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Date(2031, 5, 6, 7, 8, 9, 123, time.UTC)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		return os.Chtimes(p, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	second, err := PackageLocal(dir, t.TempDir(), modTime)
	if err != nil {
		t.Fatal(err)
	}
	return first, second
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPackageLocalReproducible: a directory packs to the same bytes
// whatever its files' times and modes on disk, and the archive is named by
// its digest, loads with Helm's own loader and holds what the directory
// held under the chart's name.
func TestPackageLocalReproducible(t *testing.T) {
	modTime := time.Unix(1767225600, 0) // 2026-01-01
	dir := rankerDir(t, nil)
	first, second := packageTwice(t, dir, modTime)
	raw := readBytes(t, first.Path)
	if !bytes.Equal(raw, readBytes(t, second.Path)) || first.SHA256 != second.SHA256 {
		t.Fatalf("two packagings differ: %s and %s", first.SHA256, second.SHA256)
	}
	sum := sha256.Sum256(raw)
	if first.SHA256 != "sha256:"+hex.EncodeToString(sum[:]) || first.Size != int64(len(raw)) ||
		filepath.Base(first.Path) != hex.EncodeToString(sum[:])+".tgz" {
		t.Errorf("Pulled %+v does not describe the archive (sha256 %x, %d bytes)", first, sum, len(raw))
	}
	if first.Name != "ranker" || first.Version != "0.2.0" || first.Chart == nil {
		t.Errorf("Pulled names %s %s, want ranker 0.2.0", first.Name, first.Version)
	}
	elsewhere := filepath.Join(t.TempDir(), "src")
	writeTree(t, elsewhere, rankerChart)
	if p, err := PackageLocal(elsewhere, t.TempDir(), modTime); err != nil || p.SHA256 != first.SHA256 {
		t.Errorf("the same files in a directory named otherwise: %v, %v; want %s", p, err, first.SHA256)
	}
	other, err := PackageLocal(dir, t.TempDir(), modTime.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if other.SHA256 == first.SHA256 {
		t.Errorf("another modTime gives the same archive %s", other.SHA256)
	}

	helm, err := loader.Load(first.Path) // as `helm install ranker.tgz`
	if err != nil {
		t.Fatalf("Helm's loader: %v", err)
	}
	fromDir, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := chartFiles(helm, ""), chartFiles(fromDir, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("archive holds\n%q\nthe directory\n%q", got, want)
	}
	checkArchiveHeaders(t, raw, modTime)
}

// checkArchiveHeaders checks what makes the archive reproducible: a gzip
// header with no name and no time, tar entries sorted, each directory
// before what it holds, under ranker/, owner 0 unnamed, fixed modes,
// mtime modTime.
func checkArchiveHeaders(t *testing.T, raw []byte, modTime time.Time) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header name %q mtime %v, want neither", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var names []string
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		seen[h.Name] = true
		wantMode, wantType := int64(0o644), byte(tar.TypeReg)
		if strings.HasSuffix(h.Name, "/") {
			wantMode, wantType = 0o755, tar.TypeDir
		}
		if h.Typeflag != wantType || h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(modTime) {
			t.Errorf("entry %s: type %c mode %o owner %d:%d (%q:%q) mtime %v", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		if parent := filepath.Dir(strings.TrimSuffix(h.Name, "/")) + "/"; parent != "./" && !seen[parent] {
			t.Errorf("entry %s comes before its directory %s", h.Name, parent)
		}
	}
	if !slices.IsSorted(names) || len(names) == 0 || names[0] != "ranker/" {
		t.Errorf("entries %q: want sorted, under ranker/", names)
	}
}

// TestPackageLocalRenders: the packaged chart renders, subchart and hook
// included, and its images are found.
func TestPackageLocalRenders(t *testing.T) {
	p, err := PackageLocal(rankerDir(t, nil), t.TempDir(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(p.Chart, RenderOptions{ReleaseName: "ranker", Namespace: "search", KubeVersion: "v1.36.2"})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := Images(p.Chart, r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(imgs, rankerImages) {
		t.Errorf("images\n got %v\nwant %v", imgs, rankerImages)
	}
}

// TestLocalArchive: a .tgz the site made with `helm package` (Helm's
// chartutil.Save) loads, and is packaged as it is.
func TestLocalArchive(t *testing.T) {
	helm, err := loader.LoadDir(rankerDir(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(helm, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := LoadLocal(tgz)
	if err != nil {
		t.Fatal(err)
	}
	want, err := loader.Load(tgz)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := chartFiles(ch, ""), chartFiles(want, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("loaded\n%q\nwant\n%q", got, want)
	}
	p, err := PackageLocal(tgz, t.TempDir(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := readBytes(t, tgz)
	sum := sha256.Sum256(src)
	if !bytes.Equal(readBytes(t, p.Path), src) || p.SHA256 != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("packaged %s (%s), want the site's archive as it is (sha256:%x)", p.Path, p.SHA256, sum)
	}
}
