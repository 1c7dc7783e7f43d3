package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// tarEntry is one entry of a hand-made chart archive.
type tarEntry struct {
	hdr  tar.Header
	data string
}

// writeTgz writes entries as a gzipped tar at path.
func writeTgz(t *testing.T, path string, entries ...tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func regular(name, data string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, data: data}
}

// sparse makes a file of size bytes at path, all a hole: instant to make.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoadLocalRefuses: what LoadLocal and PackageLocal refuse, each
// within seconds (a FIFO must not be opened blocking) and with the
// message a site's author needs.
func TestLoadLocalRefuses(t *testing.T) {
	maxFile, maxChart := loader.MaxDecompressedFileSize, loader.MaxDecompressedChartSize
	for _, tc := range []struct {
		name string
		// setup makes the chart and returns its path.
		setup func(t *testing.T) string
		want  string // in the error, after "local chart <path>: "
	}{
		{"no Chart.yaml", func(t *testing.T) string { return rankerDir(t, map[string]string{"Chart.yaml": ""}) },
			"not a chart directory: no Chart.yaml"},
		{"Chart.yaml without a version", func(t *testing.T) string {
			return rankerDir(t, map[string]string{"Chart.yaml": "apiVersion: v2\nname: ranker\n"})
		}, "validation: chart.metadata.version is required"},
		{"Chart.yaml not YAML", func(t *testing.T) string {
			return rankerDir(t, map[string]string{"Chart.yaml": "name: [ranker\n"})
		}, "cannot load Chart.yaml: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"},
		{"link to a file outside", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			secret := filepath.Join(t.TempDir(), "secret.yaml")
			writeTree(t, filepath.Dir(secret), map[string]string{"secret.yaml": "kind: Secret\n"})
			mustDo(t, os.Symlink(secret, filepath.Join(dir, "templates/secret.yaml")))
			return dir
		}, "templates/secret.yaml is a symbolic link (to /"},
		{"link to a directory", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			mustDo(t, os.Symlink(t.TempDir(), filepath.Join(dir, "charts/extra")))
			return dir
		}, "charts/extra is a symbolic link (to /"},
		{"link .helmignore'd", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			mustDo(t, os.Symlink("values.yaml", filepath.Join(dir, "values.yaml.bak")))
			return dir
		}, "values.yaml.bak is a symbolic link (to values.yaml)"},
		{"link as .helmignore", func(t *testing.T) string {
			dir := rankerDir(t, map[string]string{".helmignore": ""})
			mustDo(t, os.Symlink("/etc/hostname", filepath.Join(dir, ".helmignore")))
			return dir
		}, "/.helmignore: a symbolic link, not a regular file"},
		{"FIFO", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			mustDo(t, syscall.Mkfifo(filepath.Join(dir, "templates/configmap.yaml"), 0o644))
			return dir
		}, "templates/configmap.yaml is a named pipe (FIFO), not a regular file"},
		{"device", func(t *testing.T) string {
			if os.Geteuid() != 0 {
				t.Skip("making a device node needs root")
			}
			dir := rankerDir(t, nil)
			mustDo(t, syscall.Mknod(filepath.Join(dir, "templates/null.yaml"), syscall.S_IFCHR|0o644, int(unix.Mkdev(1, 3)))) // as /dev/null
			return dir
		}, "templates/null.yaml is a character device, not a regular file"},
		{"file over Helm's bound", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			sparse(t, filepath.Join(dir, "files/model.bin"), maxFile+1)
			return dir
		}, fmt.Sprintf("files/model.bin is larger than %d bytes, the largest file Helm loads (loader.MaxDecompressedFileSize)", maxFile)},
		{"files over Helm's bound in all", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			for i := range maxChart / maxFile {
				sparse(t, filepath.Join(dir, fmt.Sprintf("files/part%02d.bin", i)), maxFile)
			}
			return dir
		}, fmt.Sprintf("with files/part19.bin the chart's files reach %d bytes, more than Helm loads from a chart archive (loader.MaxDecompressedChartSize)", maxChart)},
		{"too deep", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			deep := filepath.Join(dir, "files", strings.Repeat("d/", maxChartDepth))
			writeTree(t, deep, map[string]string{"x.txt": "x"})
			return dir
		}, fmt.Sprintf("files/%s is more than %d directories deep in the chart", strings.Repeat("d/", maxChartDepth-1)+"d", maxChartDepth)},
		{"dependency not vendored", func(t *testing.T) string {
			dir := rankerDir(t, nil)
			mustDo(t, os.RemoveAll(filepath.Join(dir, "charts")))
			return dir
		}, "Chart.yaml: dependencies not vendored: found in Chart.yaml, but missing in charts/ directory: cache; run `helm dependency build /"},
		{"subchart's dependency not vendored", func(t *testing.T) string {
			return rankerDir(t, map[string]string{"charts/cache/Chart.yaml": `apiVersion: v2
name: cache
version: 0.1.0
dependencies:
  - {name: exporter, version: 1.0.0, repository: "https://charts.example/"}
`})
		}, "charts/cache/Chart.yaml: dependencies not vendored: found in Chart.yaml, but missing in charts/ directory: exporter; run `helm dependency build /"},
		{".tgz with a dependency not vendored", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker.tgz")
			writeTgz(t, p, regular("ranker/Chart.yaml", rankerChart["Chart.yaml"]))
			return p
		}, "Chart.yaml: dependencies not vendored: found in Chart.yaml, but missing in charts/ directory: cache; run `helm dependency build` where the archive was packaged from, and package it again"},
		{"a values file", func(t *testing.T) string { return filepath.Join(rankerDir(t, nil), "values.yaml") },
			"a regular file, neither a chart directory nor a chart archive (.tgz)"},
		{"a FIFO named .tgz", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker.tgz")
			mustDo(t, syscall.Mkfifo(p, 0o644))
			return p
		}, "a named pipe (FIFO), neither a chart directory nor a chart archive (.tgz)"},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "ranker") },
			"no such file or directory"},
		{"a link to a chart", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker")
			mustDo(t, os.Symlink(rankerDir(t, nil), p))
			return p
		}, "a symbolic link (to /"},
		{"a link to a chart, with a slash", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker")
			mustDo(t, os.Symlink(rankerDir(t, nil), p))
			return p + "/"
		}, "a symbolic link (to /"},
		{".tgz not gzipped", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker.tgz")
			writeTree(t, filepath.Dir(p), map[string]string{"ranker.tgz": rankerChart["Chart.yaml"]})
			return p
		}, "not a gzipped archive: gzip: invalid header"},
		{".tgz with a link", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker.tgz")
			writeTgz(t, p, regular("ranker/Chart.yaml", "apiVersion: v2\nname: ranker\nversion: 0.2.0\n"),
				tarEntry{hdr: tar.Header{Name: "ranker/templates/secret.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}})
			return p
		}, "archive entry ranker/templates/secret.yaml is a symbolic link, not a regular file"},
		{".tgz with a file over Helm's bound", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker.tgz")
			writeTgz(t, p, regular("ranker/Chart.yaml", "apiVersion: v2\nname: ranker\nversion: 0.2.0\n"),
				regular("ranker/files/model.bin", strings.Repeat("\x00", int(maxFile)+1)))
			return p
		}, fmt.Sprintf("archive entry ranker/files/model.bin is larger than %d bytes", maxFile)},
		{".tgz without Chart.yaml", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ranker.tgz")
			writeTgz(t, p, regular("ranker/values.yaml", "replicas: 1\n"))
			return p
		}, "Chart.yaml file is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t)
			out := t.TempDir()
			for _, call := range []struct {
				name string
				run  func() error
			}{
				{"LoadLocal", func() error { _, err := LoadLocal(path); return err }},
				{"PackageLocal", func() error { _, err := PackageLocal(path, out, time.Unix(0, 0)); return err }},
			} {
				err := within(t, 10*time.Second, call.run)
				t.Logf("%s: %v", call.name, err)
				if prefix := "local chart " + filepath.Clean(path) + ": "; err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v\nwant an error starting %q, saying %q", call.name, err, prefix, tc.want)
				}
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("PackageLocal left %v in its directory", left)
			}
		})
	}
}

// within runs f and fails the test if it takes longer than d.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("still running after %v (blocked?)", d)
		return nil
	}
}

// TestLoadLocalSkipsIgnoredIrregular: a FIFO that .helmignore leaves out
// is never opened and does not stop the load, as with Helm's LoadDir.
func TestLoadLocalSkipsIgnoredIrregular(t *testing.T) {
	dir := rankerDir(t, nil)
	mustDo(t, syscall.Mkfifo(filepath.Join(dir, "notes/pipe"), 0o644))
	mustDo(t, syscall.Mkfifo(filepath.Join(dir, "debug.bak"), 0o644))
	err := within(t, 10*time.Second, func() error { _, err := LoadLocal(dir); return err })
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadChartDirEntries: a tree with more entries than the bound is
// refused, .helmignore'd entries counted, an ignored directory's not
// (the bound itself, maxChartEntries, would take seconds of file making).
func TestReadChartDirEntries(t *testing.T) {
	dir := rankerDir(t, nil)
	// 17 entries are listed: 7 at the top (notes/ among them, not
	// entered), 1 in charts/, 3 in charts/cache/, 1 in its templates/, and
	// last 5 in templates/ (deployment.yaml.bak among them).
	for _, tc := range []struct {
		max  int
		want string
	}{
		{17, ""},
		{16, "the chart's directories hold more than 16 entries (by templates)"},
	} {
		_, err := readChartDirBounded(dir, tc.max)
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("bound %d: %v, want %q", tc.max, err, tc.want)
		}
	}
}
