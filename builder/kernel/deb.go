package kernel

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// FromDeb unpacks a Debian linux-image package into destDir (which must
// not exist yet) and finds the kernel in it.
func FromDeb(debPath, destDir string) (Kernel, error) {
	if err := ExtractDeb(debPath, destDir); err != nil {
		return Kernel{}, err
	}
	k, err := Find(os.DirFS(destDir))
	if err != nil {
		return Kernel{}, fmt.Errorf("kernel package %s: %w", debPath, err)
	}
	return k, nil
}

// ExtractDeb unpacks the data archive of the Debian package debPath into
// destDir, which must not exist yet. It unpacks into a temporary sibling and
// renames it at the end, so destDir is either complete or absent. Nothing
// is written outside it or through a symbolic link, no symbolic link in it
// leads out, and the package must keep within the bounds in untar.go.
func ExtractDeb(debPath, destDir string) error {
	if _, err := os.Lstat(destDir); err == nil {
		return fmt.Errorf("extract %s: destination %s already exists", debPath, destDir)
	}
	f, err := os.Open(debPath)
	if err != nil {
		return fmt.Errorf("extract deb: %w", err)
	}
	defer f.Close()
	data, name, err := debData(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("extract %s: %w", debPath, err)
	}
	defer data.Close()
	tmp, err := os.MkdirTemp(filepath.Dir(destDir), "."+filepath.Base(destDir)+".tmp-")
	if err != nil {
		return fmt.Errorf("extract %s: %w", debPath, err)
	}
	if err := untar(tar.NewReader(data), tmp, debLimits()); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extract %s %s: %w", debPath, name, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extract %s: %w", debPath, err)
	}
	if err := os.Rename(tmp, destDir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extract %s: %w", debPath, err)
	}
	return nil
}

const arMagic = "!<arch>\n"

// debData walks the ar archive r and returns the decompressed data.tar
// member and its name.
func debData(r io.Reader) (io.ReadCloser, string, error) {
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != arMagic {
		return nil, "", errors.New("not a Debian package (no ar header)")
	}
	var seen []string
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, "", fmt.Errorf("no data.tar member (members: %s)", strings.Join(seen, " "))
			}
			return nil, "", fmt.Errorf("read ar header: %w", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, "", fmt.Errorf("corrupt ar header after %q", seen)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, "", fmt.Errorf("ar member %s: bad size %q", name, hdr[48:58])
		}
		seen = append(seen, name)
		member := io.LimitReader(r, size)
		if strings.HasPrefix(name, "data.tar") {
			rc, err := decompress(name, member)
			return rc, name, err
		}
		if _, err := io.Copy(io.Discard, member); err != nil {
			return nil, "", fmt.Errorf("skip ar member %s: %w", name, err)
		}
		if size%2 == 1 {
			if _, err := io.ReadFull(r, hdr[:1]); err != nil {
				return nil, "", fmt.Errorf("skip ar member %s padding: %w", name, err)
			}
		}
	}
}

func decompress(name string, r io.Reader) (io.ReadCloser, error) {
	switch filepath.Ext(name) {
	case ".tar":
		return io.NopCloser(r), nil
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return zr, nil
	case ".xz":
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return io.NopCloser(zr), nil
	case ".zst":
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return zr.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("%s: unsupported compression", name)
}
