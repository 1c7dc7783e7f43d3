// Package testfixture makes small fixtures for tests: tar streams and their
// gzip, zstd and xz compressions (the shapes base OS tarballs and Debian
// package members come in), and images pushed to a test registry.
package testfixture

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// TarEntry is one tar member. Type 0 means a directory when Name ends in
// "/" and a regular file otherwise; Mode 0 means 0755 for directories and
// 0644 for everything else.
type TarEntry struct {
	Name, Body, Link string
	Type             byte
	Mode             int64
}

// Tar returns a tar stream of entries, in order.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Link, Size: int64(len(e.Body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.Name, "/") {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Compress compresses data with format: "gzip" (or ".gz"), "zstd" (".zst"),
// "xz" (".xz"); "" and "plain" return data as it is.
func Compress(t testing.TB, format string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch format {
	case "", "plain":
		return data
	case "gzip", ".gz":
		w = gzip.NewWriter(&buf)
	case "zstd", ".zst":
		w, err = zstd.NewWriter(&buf)
	case "xz", ".xz":
		w, err = xz.NewWriter(&buf)
	default:
		t.Fatalf("testfixture: unknown compression %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
