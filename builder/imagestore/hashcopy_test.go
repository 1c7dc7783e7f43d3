package imagestore

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testBlob is a blob of n pseudo-random bytes streamed from open (held in
// raw when asRaw), and the content it holds.
func testBlob(image string, seed uint64, n int, asRaw bool) (*blob, []byte) {
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(data)
	b := &blob{digest: sha256Of(data), size: int64(n), image: image}
	if asRaw {
		b.raw = data
	} else {
		b.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	return b, data
}

// writeBlobs writes blobs as Write does, without index.json and
// oci-layout, and returns the tar's bytes.
func writeBlobs(blobs []*blob) ([]byte, error) {
	var out bytes.Buffer
	tw := &tarWriter{tw: tar.NewWriter(&out), mtime: epoch}
	err := errors.Join(tw.dir("blobs/"), tw.dir("blobs/sha256/"))
	if err == nil {
		err = tw.blobs(blobs, nil)
	}
	if err == nil {
		err = tw.tw.Close()
	}
	return out.Bytes(), err
}

// Content crossing buffer boundaries in every way reaches the tar intact,
// each blob once under its digest.
func TestBlobsCopiedAcrossBuffers(t *testing.T) {
	var blobs []*blob
	want := map[string][]byte{}
	for i, n := range []int{0, 1, copyChunk - 1, copyChunk, copyChunk + 1, 3*copyChunk + 5, 7 << 10} {
		b, data := testBlob("img", uint64(i), n, i%2 == 1)
		blobs = append(blobs, b)
		want["blobs/sha256/"+b.digest.Hex] = data
	}
	archive, err := writeBlobs(blobs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := untar(t, archive, dir)[2:] // after blobs/ and blobs/sha256/
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[n]; !ok || !bytes.Equal(data, w) {
			t.Errorf("%s: %d bytes, not the %d bytes of its blob (known: %t)", n, len(data), len(w), ok)
		}
	}
	if len(names) != len(blobs) {
		t.Errorf("tar has %d entries, want %d", len(names), len(blobs))
	}
}

// A byte flipped in the middle of a blob of several buffers fails the
// write naming that blob, though later blobs were already being copied.
func TestBlobsMismatchMidBlob(t *testing.T) {
	good1, _ := testBlob("img-a", 1, copyChunk/2, true)
	bad, data := testBlob("img-b", 2, 5*copyChunk+7, false)
	data[len(data)/2] ^= 0x01
	good2, _ := testBlob("img-c", 3, 2*copyChunk, false)
	_, err := writeBlobs([]*blob{good1, bad, good2})
	want := fmt.Sprintf("image img-b: blob %s: content is %s", bad.digest, sha256Of(data))
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

// After a mismatch the writer stops within a few buffers: it does not
// read the rest of the payload before failing. The verifier checks blob 0
// before it returns the buffer of blob copyBuffers+1's chunk, so blob
// copyBuffers+2 is never opened.
func TestBlobsStopAfterMismatch(t *testing.T) {
	var opened atomic.Int32
	var blobs []*blob
	for i := range 50 {
		b, data := testBlob("img", uint64(i), copyChunk, false)
		if i == 0 {
			data[0] ^= 0x01
		}
		open := b.open
		b.open = func() (io.ReadCloser, error) { opened.Add(1); return open() }
		blobs = append(blobs, b)
	}
	_, err := writeBlobs(blobs)
	if want := fmt.Sprintf("blob %s: content is", blobs[0].digest); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want one containing %q", err, want)
	}
	if n := opened.Load(); n > copyBuffers+2 {
		t.Errorf("%d of %d blobs opened after blob 0 failed, want at most %d", n, len(blobs), copyBuffers+2)
	}
}

// errAfterReader returns err once n bytes were read from r.
type errAfterReader struct {
	r   io.Reader
	n   int
	err error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	p = p[:min(len(p), e.n)]
	n, err := e.r.Read(p)
	e.n -= n
	return n, err
}

// A read failing in the middle of a blob fails the write naming the blob
// and the read error; the verifier's goroutine ends (writeBlobs returns
// only once it has) with no mismatch reported for the unfinished blob.
func TestBlobsReadError(t *testing.T) {
	good, _ := testBlob("img-a", 1, 2*copyChunk, false)
	failing, data := testBlob("img-b", 2, 4*copyChunk, false)
	errDisk := errors.New("input/output error")
	failing.open = func() (io.ReadCloser, error) {
		return io.NopCloser(&errAfterReader{r: bytes.NewReader(data), n: 2*copyChunk + 100, err: errDisk}), nil
	}
	_, err := writeBlobs([]*blob{good, failing})
	if want := fmt.Sprintf("image img-b: blob %s: %v", failing.digest, errDisk); err == nil || err.Error() != want || !errors.Is(err, errDisk) {
		t.Errorf("error = %v\nwant %s (wrapping it)", err, want)
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errors.New("no space left on device")
	}
	f.n -= len(p)
	return len(p), nil
}

// A failing output ends the write with the output's error, and Write
// returns (the verifier's goroutine does not hold it up).
func TestBlobsWriteError(t *testing.T) {
	b, _ := testBlob("img", 1, 4*copyChunk, false)
	tw := &tarWriter{tw: tar.NewWriter(&failingWriter{n: copyChunk + 4096}), mtime: epoch}
	done := make(chan error)
	go func() { done <- tw.blobs([]*blob{b}, nil) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no space left on device") {
			t.Errorf("error = %v, want the output's", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blobs did not return after the output failed")
	}
}
