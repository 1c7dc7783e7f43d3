package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
)

// Helm's chartutil.Save, which `helm package` uses, is not reproducible
// (helm.sh/helm/v3 v3.22.0 pkg/chartutil/save.go writeToTar: every
// entry's ModTime is time.Now(); it also rewrites Chart.yaml from the
// parsed metadata), so a chart directory is archived here instead:
// the files exactly as loaded, under a top directory named after the chart
// as `helm package` names it (writeTarContents: base is c.Name()).

// archiveFiles returns the gzipped tar of files (named below the chart),
// all under the directory top: every directory on the way gets its own
// entry, entries are sorted by name, every entry has mtime modTime (in
// whole seconds), owner 0:0 with no owner names, mode 0644 (files) or
// 0755 (directories); the gzip header has no name and mtime 0. The same
// files and modTime give the same bytes.
func archiveFiles(top string, files []*loader.BufferedFile, modTime time.Time) ([]byte, error) {
	data := map[string][]byte{top + "/": nil}
	for _, f := range files {
		data[top+"/"+f.Name] = f.Data
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			data[top+"/"+d+"/"] = nil
		}
	}
	names := make([]string, 0, len(data))
	for n := range data {
		names = append(names, n)
	}
	slices.Sort(names) // a directory "a/" sorts before everything under it
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // zero Header: no name, MTIME 0
	tw := tar.NewWriter(zw)
	mt := modTime.UTC().Truncate(time.Second)
	for _, n := range names {
		h := &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data[n])), ModTime: mt}
		if n[len(n)-1] == '/' {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("archive %s: %w", n, err)
		}
		if _, err := tw.Write(data[n]); err != nil {
			return nil, fmt.Errorf("archive %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return buf.Bytes(), nil
}

// checkArchive refuses a site's chart archive that holds anything but
// regular files and directories (a link, a device, a FIFO) or whose
// content exceeds Helm's bounds, before Helm's loader reads it. Helm's
// archive loader (pkg/chart/loader/archive.go LoadArchiveFiles) skips
// nothing but directories and PAX headers: it would load a link entry as
// an empty file. It bounds each file's content by
// loader.MaxDecompressedFileSize and the sum by
// loader.MaxDecompressedChartSize but not the tar headers between them;
// here the whole decompressed stream is bounded at twice the content's
// bound, which leaves room for over 100000 headers.
func checkArchive(raw []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("not a gzipped archive: %w", err)
	}
	defer zr.Close()
	limit := 2 * loader.MaxDecompressedChartSize
	tr := tar.NewReader(&boundedReader{r: zr, left: limit})
	total := int64(0)
	for {
		hd, err := tr.Next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, errStreamTooLarge):
			return fmt.Errorf("archive decompresses to more than %d bytes", limit)
		case err != nil:
			return fmt.Errorf("read archive: %w", err)
		}
		switch hd.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("archive entry %s is %s, not a regular file", hd.Name, tarType(hd.Typeflag))
		}
		if hd.Size > loader.MaxDecompressedFileSize {
			return fmt.Errorf("archive entry %s is larger than %d bytes, the largest file Helm loads (loader.MaxDecompressedFileSize)",
				hd.Name, loader.MaxDecompressedFileSize)
		}
		if total += hd.Size; total >= loader.MaxDecompressedChartSize {
			return fmt.Errorf("archive's files reach %d bytes, more than Helm loads from a chart archive (loader.MaxDecompressedChartSize)",
				loader.MaxDecompressedChartSize)
		}
	}
}

// tarType names a tar entry type for an error.
func tarType(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "a symbolic link"
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "a device"
	case tar.TypeFifo:
		return "a FIFO"
	}
	return fmt.Sprintf("of type %q", t)
}

// errStreamTooLarge: a boundedReader's bound was reached.
var errStreamTooLarge = errors.New("stream larger than its bound")

// boundedReader reads r until left bytes were read, then fails with
// errStreamTooLarge.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errStreamTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
