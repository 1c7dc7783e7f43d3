package upgrade

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// Source is where a bundle's files come from: its directory on this node
// (dirSource) or the URL of that directory on an HTTP server (httpSource).
type Source interface {
	// String names the source for messages.
	String() string
	// ReadSmall returns the bundle's file name, of at most max bytes.
	ReadSmall(ctx context.Context, name string, max int64) ([]byte, error)
	// Open streams the bundle's file f: exactly f.Size bytes, or an error
	// naming what came instead. The caller verifies the content.
	Open(ctx context.Context, f upgradebundle.File) (io.ReadCloser, error)
	Close() error
}

// OpenSource opens the bundle at loc: a directory, the path of its
// manifest.json, or an http(s) URL of either.
func OpenSource(loc string, opts HTTPOptions) (Source, error) {
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("bundle URL %q: want http(s)://HOST/PATH of the bundle directory or its %s", loc, upgradebundle.ManifestFile)
		}
		return newHTTPSource(u, opts), nil
	}
	if strings.Contains(loc, "://") {
		return nil, fmt.Errorf("bundle %q: want a directory, its %s, or an http(s) URL", loc, upgradebundle.ManifestFile)
	}
	if filepath.Base(loc) == upgradebundle.ManifestFile {
		loc = filepath.Dir(loc)
	}
	d, err := openDirSource(loc)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ReadManifest reads the bundle's manifest.json and manifest.sig,
// verifies them with the node's public key pub and decodes them
// (upgradebundle.Open).
func ReadManifest(ctx context.Context, src Source, pub ed25519.PublicKey) (upgradebundle.Manifest, error) {
	m, _, err := readSigned(ctx, src, pub)
	return m, err
}

// signed is a manifest's exact bytes and their signature.
type signed struct{ manifest, sig []byte }

// readSigned is ReadManifest, also returning what it verified.
func readSigned(ctx context.Context, src Source, pub ed25519.PublicKey) (upgradebundle.Manifest, signed, error) {
	manifest, err := src.ReadSmall(ctx, upgradebundle.ManifestFile, upgradebundle.MaxManifestSize)
	if err != nil {
		return upgradebundle.Manifest{}, signed{}, fmt.Errorf("bundle %s: %w", src, err)
	}
	sig, err := src.ReadSmall(ctx, upgradebundle.SignatureFile, upgradebundle.MaxSignatureSize)
	if err != nil {
		return upgradebundle.Manifest{}, signed{}, fmt.Errorf("bundle %s: %w", src, err)
	}
	m, err := upgradebundle.Open(pub, manifest, sig)
	if err != nil {
		return upgradebundle.Manifest{}, signed{}, fmt.Errorf("bundle %s: %w", src, err)
	}
	return m, signed{manifest, sig}, nil
}

// errTruncated and errCorrupted are what a bundle file that is not what
// its manifest says is refused with.
var (
	errTruncated = errors.New("truncated or changed bundle")
	errCorrupted = errors.New("corrupted bundle")
)

// sizeError is a bundle file of the wrong size.
func sizeError(f upgradebundle.File, got int64) error {
	return fmt.Errorf("%s is %d bytes, the manifest says %d: %w", f.Name, got, f.Size, errTruncated)
}

// copyBuffer is the size of the writes to a partition or file.
const copyBuffer = 1 << 20

// copyVerified copies f's content from r to w and checks its size and
// sha256 against the manifest's, returning the number of bytes copied.
func copyVerified(w io.Writer, r io.Reader, f upgradebundle.File) (int64, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(r, f.Size+1), make([]byte, copyBuffer))
	switch {
	case err != nil:
		return n, fmt.Errorf("%s: after %d bytes: %w", f.Name, n, err)
	case n != f.Size:
		return n, sizeError(f, n)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return n, fmt.Errorf("%s has sha256 %s, the manifest says %s: %w", f.Name, got, f.SHA256, errCorrupted)
	}
	return n, nil
}

// exactReader returns f.Size bytes of r, then io.EOF if r ends there; a
// short or long r is an error naming f.
type exactReader struct {
	r    io.Reader
	f    upgradebundle.File
	read int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if left := e.f.Size - e.read; int64(len(p)) > left {
		p = p[:left+1] // one byte more tells a long file
	}
	n, err := e.r.Read(p)
	e.read += int64(n)
	switch {
	case e.read > e.f.Size:
		return n - int(e.read-e.f.Size), fmt.Errorf("%s is longer than the manifest's %d bytes: %w", e.f.Name, e.f.Size, errTruncated)
	case err == io.EOF && e.read < e.f.Size:
		return n, sizeError(e.f, e.read)
	}
	return n, err
}

// fileStream is an open bundle file read through exactReader.
type fileStream struct {
	exactReader
	file *os.File
}

func (s *fileStream) Close() error { return s.file.Close() }
