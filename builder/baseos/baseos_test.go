package baseos

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

type file struct{ name, body string }

func makeTar(t *testing.T, files ...file) []byte {
	entries := make([]testfixture.TarEntry, len(files))
	for i, f := range files {
		entries[i] = testfixture.TarEntry{Name: f.name, Body: f.body}
	}
	return testfixture.Tar(t, entries...)
}

func compress(t *testing.T, format string, data []byte) []byte {
	return testfixture.Compress(t, format, data)
}

// files lists the regular files of a tree with their content.
func files(t *testing.T, tree *rootfs.Tree) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := fs.ReadFile(tree, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newTree(t *testing.T) *rootfs.Tree {
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { tree.Close() })
	return tree
}

func TestTarballDetectedByMagic(t *testing.T) {
	data := makeTar(t, file{"etc/", ""}, file{"etc/os-release", "ID=debian\n"}, file{"usr/bin/sh", "elf"})
	want := map[string]string{"etc/os-release": "ID=debian\n", "usr/bin/sh": "elf", "etc/hosts": applianceHosts, "etc/machine-id": ""}
	for _, format := range []string{"plain", "gzip", "zstd", "xz"} {
		t.Run(format, func(t *testing.T) {
			// The name says nothing true about the content.
			p := filepath.Join(t.TempDir(), "base.tar.bz2")
			if err := os.WriteFile(p, compress(t, format, data), 0o644); err != nil {
				t.Fatal(err)
			}
			tree := newTree(t)
			if err := AddTo(context.Background(), tree, Source{TarPath: p}); err != nil {
				t.Fatal(err)
			}
			if got := files(t, tree); !reflect.DeepEqual(got, want) {
				t.Errorf("files = %v, want %v", got, want)
			}
			if origin, _ := tree.Origin("etc/os-release"); origin != "base:"+p {
				t.Errorf("origin = %q", origin)
			}
		})
	}
}

func TestDirSource(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/os-release"), []byte("ID=debian\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := newTree(t)
	if err := AddTo(context.Background(), tree, Source{Dir: dir, Name: "dir"}); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, tree), map[string]string{"etc/os-release": "ID=debian\n", "etc/hosts": applianceHosts, "etc/machine-id": ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func layer(t *testing.T, files ...file) v1.Layer {
	t.Helper()
	return layerOf(t, makeTar(t, files...))
}

// layerOf is an uncompressed image layer holding the tar stream data.
func layerOf(t *testing.T, data []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestImageWhiteouts(t *testing.T) {
	img, err := mutate.AppendLayers(empty.Image,
		layer(t, file{"etc/", ""}, file{"etc/removed", "r"}, file{"etc/kept", "k"},
			file{"var/lib/state/", ""}, file{"var/lib/state/old1", "1"}, file{"var/lib/state/old2", "2"}),
		layer(t, file{"etc/.wh.removed", ""},
			file{"var/lib/state/", ""}, file{"var/lib/state/.wh..wh..opq", ""}, file{"var/lib/state/new", "n"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tree := newTree(t)
	if err := AddTo(context.Background(), tree, Source{Image: img}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"etc/kept": "k", "var/lib/state/new": "n", "etc/hosts": applianceHosts, "etc/machine-id": ""}
	if got := files(t, tree); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestSourceErrors(t *testing.T) {
	bz := filepath.Join(t.TempDir(), "base.tar")
	if err := os.WriteFile(bz, []byte("BZh91AY&SY"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.tar")
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"none", Source{}, "base OS source: exactly one of TarPath, Dir and Image must be set"},
		{"two", Source{TarPath: bz, Dir: "/"}, "base OS source: exactly one of TarPath, Dir and Image must be set"},
		{"bzip2", Source{TarPath: bz}, "base OS tarball " + bz + ": bzip2 compression is not supported (use plain, gzip, zstd or xz)"},
		{"missing", Source{TarPath: missing}, "base OS tarball: open " + missing + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := AddTo(context.Background(), newTree(t), tt.src)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "base.tar.gz")
	if err := os.WriteFile(p, compress(t, "gzip", makeTar(t, file{"a", "a"})), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := AddTo(ctx, newTree(t), Source{TarPath: p})
	if want := "base OS tarball: read tar base:" + p + ": context canceled"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
