package charts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/ml-appliance/appliance/builder/atomicfile"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// A site's own chart may be a chart directory or a .tgz beside site.yaml.
// Both are read as files the builder does not own (see localtree.go and
// checkArchive), loaded with Helm's loader, and must have every
// dependency their Chart.yaml lists vendored under charts/.

// localChart is a site's chart as read: the loaded chart and, for a .tgz,
// the archive's bytes, for a directory its files.
type localChart struct {
	chart   *chart.Chart
	archive []byte
	files   []*loader.BufferedFile
}

// LoadLocal loads the chart directory or chart archive (.tgz) at path as
// Helm does (loader.LoadDir with .helmignore, loader.LoadArchive;
// subcharts vendored under charts/ included), refusing what Helm would
// take but a build must not: a symbolic link anywhere (path itself
// included), a FIFO, device or socket, a file or a whole beyond Helm's
// loader.MaxDecompressedFileSize and loader.MaxDecompressedChartSize, and
// a dependency that Chart.yaml lists but charts/ does not hold.
func LoadLocal(path string) (*chart.Chart, error) {
	l, err := readLocal(path)
	if err != nil {
		return nil, err
	}
	return l.chart, nil
}

// readLocal reads and loads the chart at path (LoadLocal).
func readLocal(path string) (*localChart, error) {
	path = filepath.Clean(path) // with a trailing slash, Lstat would follow a link
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("local chart %s: %w", path, smallfile.Cause(err))
	}
	l := &localChart{}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		err = fmt.Errorf("a symbolic link (to %s): name the chart directory or .tgz itself", target)
	case fi.IsDir():
		if l.files, err = readChartDir(path); err == nil {
			l.chart, err = loader.LoadFiles(l.files)
		}
	case fi.Mode().IsRegular() && strings.HasSuffix(path, ".tgz"):
		l.archive, l.chart, err = readArchive(path)
	default:
		err = fmt.Errorf("%s, neither a chart directory nor a chart archive (.tgz)", smallfile.Kind(fi.Mode()))
	}
	if err == nil {
		dir := path
		if l.archive != nil {
			dir = ""
		}
		err = checkVendored(l.chart, dir, "")
	}
	if err != nil {
		return nil, fmt.Errorf("local chart %s: %w", path, err)
	}
	return l, nil
}

// readArchive reads the chart archive at path (a regular file, not a
// link) and loads it. The archive itself is bounded by
// loader.MaxDecompressedChartSize too: gzip hardly grows what it cannot
// compress, so a larger archive holds more than Helm loads from one.
func readArchive(path string) ([]byte, *chart.Chart, error) {
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	defer dir.Close()
	raw, err := smallfile.ReadIn(dir, filepath.Base(path), loader.MaxDecompressedChartSize)
	if err != nil {
		return nil, nil, err
	}
	if err := checkArchive(raw); err != nil {
		return nil, nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	return raw, ch, nil
}

// checkVendored fails when a Chart.yaml of ch (at: its directory below
// the top chart, "" for the top, "charts/db/" for a subchart) lists a
// dependency that charts/ does not hold; dir is the site's chart
// directory, "" for an archive. `helm install` and `helm package` fail on
// the top chart alike (helm.sh/helm/v3 v3.22.0 cmd/helm/install.go
// runInstall and pkg/action/package.go Run call action.CheckDependencies,
// with a hint to run `helm dependency build`), and helm-controller
// installs the chart with the helm CLI; a subchart is checked too, since
// Helm would render it without the missing chart and say nothing.
func checkVendored(ch *chart.Chart, dir, at string) error {
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		hint := "run `helm dependency build` where the archive was packaged from, and package it again"
		if dir != "" {
			hint = "run `helm dependency build " + filepath.Join(dir, at) + "` to vendor them"
		}
		return fmt.Errorf("%sChart.yaml: dependencies not vendored: %w; %s", at, err, hint)
	}
	for _, dep := range ch.Dependencies() {
		if err := checkVendored(dep, dir, at+"charts/"+dep.Name()+"/"); err != nil {
			return err
		}
	}
	return nil
}

// PackageLocal loads the chart at path as LoadLocal does and writes it as
// a chart archive Helm loads into dir (made if missing), named
// "<sha256 hex>.tgz". A .tgz is written as it is. A directory is archived
// reproducibly (archiveFiles): the same files and modTime give the same
// bytes, whatever the files' own times, owners and modes. The returned
// chart is loaded from the archive written.
func PackageLocal(path, dir string, modTime time.Time) (*Pulled, error) {
	l, err := readLocal(path)
	if err != nil {
		return nil, err
	}
	raw := l.archive
	if raw == nil {
		if raw, err = archiveFiles(l.chart.Name(), l.files, modTime); err != nil {
			return nil, fmt.Errorf("local chart %s: %w", path, err)
		}
	}
	ch, err := loader.LoadArchive(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("local chart %s: load the archive made of it: %w", path, err)
	}
	sum := sha256.Sum256(raw)
	out := filepath.Join(dir, hex.EncodeToString(sum[:])+".tgz")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local chart %s: %w", path, err)
	}
	if err := atomicfile.Write(out, raw, 0o644); err != nil {
		return nil, fmt.Errorf("local chart %s: %w", path, err)
	}
	return &Pulled{
		Path:    out,
		SHA256:  "sha256:" + hex.EncodeToString(sum[:]),
		Size:    int64(len(raw)),
		Name:    ch.Metadata.Name,
		Version: ch.Metadata.Version,
		Chart:   ch,
	}, nil
}
