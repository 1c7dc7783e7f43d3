// Package baseos owns reading the configured base operating system into a
// rootfs.Tree: a rootfs tarball (plain, gzip, zstd or xz, recognised by its
// magic bytes, not its name), a directory, or an OCI image flattened with
// go-containerregistry's mutate.Extract (which applies whiteouts and opaque
// directories). Whatever the kind, files the base carries from the machine
// that built it (/etc/hostname, /etc/hosts, /etc/resolv.conf) are dropped
// and the appliance's own laid down (buildhost.go).
package baseos

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/internal/ctxio"
)

// Source is the base OS. Exactly one field is set.
type Source struct {
	// TarPath is a rootfs tarball, plain or compressed.
	TarPath string
	// Dir is an unpacked root filesystem; owners are kept.
	Dir string
	// Image is an OCI image; its layers are flattened.
	Image v1.Image
	// Name labels the layer in the tree (defaults to the path, or "image").
	Name string
}

func (s Source) origin() string {
	switch {
	case s.Name != "":
		return "base:" + s.Name
	case s.TarPath != "":
		return "base:" + s.TarPath
	case s.Dir != "":
		return "base:" + s.Dir
	}
	return "base:image"
}

// AddTo adds the base OS to t as one layer, then replaces the files it
// carries from its build machine with the appliance's own.
func AddTo(ctx context.Context, t *rootfs.Tree, src Source) error {
	set := 0
	for _, ok := range []bool{src.TarPath != "", src.Dir != "", src.Image != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return errors.New("base OS source: exactly one of TarPath, Dir and Image must be set")
	}
	if err := addLayer(ctx, t, src); err != nil {
		return err
	}
	return replaceBuildHostFiles(t)
}

func addLayer(ctx context.Context, t *rootfs.Tree, src Source) error {
	switch {
	case src.TarPath != "":
		return addTarball(ctx, t, src.TarPath, src.origin())
	case src.Dir != "":
		if err := t.AddDir(src.Dir, "/", rootfs.DirOptions{Origin: src.origin(), KeepOwner: true}); err != nil {
			return fmt.Errorf("base OS: %w", err)
		}
		return nil
	default:
		rc := mutate.Extract(src.Image)
		defer rc.Close()
		if err := t.AddTar(ctxio.Reader(ctx, rc), src.origin()); err != nil {
			return fmt.Errorf("base OS image: %w", err)
		}
		return nil
	}
}

// Compression formats recognised by magic bytes.
var magics = []struct {
	name  string
	magic []byte
}{
	{"gzip", []byte{0x1f, 0x8b}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"bzip2", []byte("BZh")},
}

// detect names the compression of a file starting with head; "" is plain.
func detect(head []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.name
		}
	}
	return ""
}

func addTarball(ctx context.Context, t *rootfs.Tree, path, origin string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("base OS tarball: %w", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("base OS tarball %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("base OS tarball %s: %w", path, err)
	}
	var r io.Reader
	switch comp := detect(head[:n]); comp {
	case "":
		// Plain: the tree reads content from the file in place.
		if err := t.AddTar(f, origin); err != nil {
			return fmt.Errorf("base OS tarball: %w", err)
		}
		return nil
	case "gzip":
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return fmt.Errorf("base OS tarball %s: gzip: %w", path, err)
		}
		defer zr.Close()
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(f)
		if err != nil {
			return fmt.Errorf("base OS tarball %s: zstd: %w", path, err)
		}
		defer zr.Close()
		r = zr
	case "xz":
		xr, err := xz.NewReader(bufio.NewReader(f))
		if err != nil {
			return fmt.Errorf("base OS tarball %s: xz: %w", path, err)
		}
		r = xr
	default:
		return fmt.Errorf("base OS tarball %s: %s compression is not supported (use plain, gzip, zstd or xz)", path, comp)
	}
	if err := t.AddTar(ctxio.Reader(ctx, r), origin); err != nil {
		return fmt.Errorf("base OS tarball: %w", err)
	}
	return nil
}
