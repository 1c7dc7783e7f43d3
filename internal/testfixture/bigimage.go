package testfixture

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// StreamedLayer is an uncompressed OCI layer (a tar holding one file,
// payload.bin, of size pseudo-random bytes derived from seed) that is
// generated anew on every read, so a layer of gigabytes costs no memory.
// Its digest is computed here by generating the content once.
func StreamedLayer(tb testing.TB, seed string, size int64) v1.Layer {
	tb.Helper()
	l := &streamedLayer{key: sha256.Sum256([]byte(seed)), payload: size}
	var hdr bytes.Buffer
	err := tar.NewWriter(&hdr).WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "payload.bin", Mode: 0o644,
		Size: size, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
	if err != nil {
		tb.Fatalf("streamed layer %s: %v", seed, err)
	}
	l.header = hdr.Bytes()
	pad := (512 - size%512) % 512
	l.size = int64(len(l.header)) + size + pad + 1024 // two zero blocks end a tar
	h := sha256.New()
	if n, err := io.Copy(h, l.reader()); err != nil || n != l.size {
		tb.Fatalf("streamed layer %s: generated %d of %d bytes: %v", seed, n, l.size, err)
	}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	return l
}

type streamedLayer struct {
	key     [32]byte
	header  []byte
	payload int64 // bytes of payload.bin
	size    int64 // bytes of the whole tar
	digest  v1.Hash
}

func (l *streamedLayer) reader() io.Reader {
	block, err := aes.NewCipher(l.key[:16])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	ks := &keystream{s: cipher.NewCTR(block, l.key[16:]), left: l.payload}
	return io.MultiReader(bytes.NewReader(l.header), ks,
		io.LimitReader(zeros{}, l.size-int64(len(l.header))-l.payload))
}

func (l *streamedLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *streamedLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *streamedLayer) Size() (int64, error)                 { return l.size, nil }
func (l *streamedLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }
func (l *streamedLayer) Compressed() (io.ReadCloser, error)   { return io.NopCloser(l.reader()), nil }
func (l *streamedLayer) Uncompressed() (io.ReadCloser, error) { return io.NopCloser(l.reader()), nil }

// keystream reads left bytes of an AES-CTR keystream: incompressible,
// reproducible from the key, and generated at gigabytes per second.
type keystream struct {
	s    cipher.Stream
	left int64
}

func (k *keystream) Read(p []byte) (int, error) {
	if k.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > k.left {
		p = p[:k.left]
	}
	clear(p)
	k.s.XORKeyStream(p, p)
	k.left -= int64(len(p))
	return len(p), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// DiskRegistry serves a registry on 127.0.0.1 whose blobs are files under
// dir, for images too big to hold in memory (the registry's default blob
// handler keeps every blob in a byte slice). Unlike
// registry.NewDiskBlobHandler, it answers HEAD and GET from the file's
// size without hashing the whole blob on every request, as a real registry
// does, so pulls are not slowed by the test registry. It returns the
// registry's host:port.
func DiskRegistry(tb testing.TB, dir string) string {
	tb.Helper()
	srv := httptest.NewServer(DiskRegistryHandler(tb, dir))
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// DiskRegistryHandler is DiskRegistry's registry as a handler, for a
// server of the caller's (one that counts requests, say).
func DiskRegistryHandler(tb testing.TB, dir string) http.Handler {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(fileBlobs{dir: dir}))
}

type fileBlobs struct{ dir string }

func (f fileBlobs) path(h v1.Hash) string { return filepath.Join(f.dir, h.Algorithm+"-"+h.Hex) }

func (f fileBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(f.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f fileBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	r, err := os.Open(f.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return r, err
}

// Put streams rc (which the registry verifies against h as it is read)
// to a temp file and renames it into place only when all of it arrived.
func (f fileBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	tmp, err := os.CreateTemp(f.dir, "upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path(h))
}

// PushStreamed pushes img to ref on a test registry, uploading each blob
// the registry lacks in one streamed POST. remote.Write uploads in PATCH
// chunks, which the in-process registry collects in memory whatever its
// blob handler; this keeps a pushed layer of gigabytes out of memory.
func PushStreamed(tb testing.TB, ref string, img v1.Image) {
	tb.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	blobs := "http://" + r.Context().RegistryStr() + "/v2/" + r.Context().RepositoryStr() + "/blobs/"
	if err := postBlob(blobs, m.Config.Digest, int64(len(rawConfig)), bytes.NewReader(rawConfig)); err != nil {
		tb.Fatalf("push %s: config: %v", ref, err)
	}
	for _, desc := range m.Layers {
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			tb.Fatalf("push %s: layer %s: %v", ref, desc.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			tb.Fatalf("push %s: layer %s: %v", ref, desc.Digest, err)
		}
		err = postBlob(blobs, desc.Digest, desc.Size, rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("push %s: layer %s: %v", ref, desc.Digest, err)
		}
	}
	if err := remote.Put(r, img); err != nil {
		tb.Fatalf("push %s: manifest: %v", ref, err)
	}
}

// postBlob uploads body as blob d unless the registry has it already.
func postBlob(blobs string, d v1.Hash, size int64, body io.Reader) error {
	head, err := http.Head(blobs + d.String())
	if err != nil {
		return err
	}
	head.Body.Close()
	if head.StatusCode == http.StatusOK {
		return nil
	}
	req, err := http.NewRequest(http.MethodPost, blobs+"uploads/?digest="+url.QueryEscape(d.String()), io.NopCloser(body))
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST blob: %s: %s", resp.Status, msg)
	}
	return nil
}
