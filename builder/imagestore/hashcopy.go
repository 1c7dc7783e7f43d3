package imagestore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The buffers blob content is copied through: one being read into and
// written out while the others wait to be hashed. Their total, 3 MiB, is
// all the memory copying takes, whatever the payload.
const (
	copyChunk   = 1 << 20
	copyBuffers = 3
)

// verifier copies blob content through a fixed set of buffers and hashes
// each buffer with sha256 in its own goroutine, while the writer goes on
// reading and writing the next buffer and the next blobs; when a blob's
// content ends it checks the blob's digest. So hashing is off the copy's
// critical path when a second core is free, and the hash is of exactly
// the bytes handed to the writer. A mismatch is known only some buffers
// later: finish reports it, and the caller must then discard what it
// wrote. A verifier is not safe for concurrent use.
type verifier struct {
	free   chan []byte // empty buffers, full length
	full   chan chunk  // content to hash, in order
	done   chan struct{}
	failed atomic.Bool // set once err is
	err    error       // the first mismatch; read only after done
}

// chunk is content to hash, or with end set, the end of a blob's content.
type chunk struct {
	data []byte
	end  *blob
}

func newVerifier() *verifier {
	v := &verifier{
		free: make(chan []byte, copyBuffers),
		full: make(chan chunk, copyBuffers+1),
		done: make(chan struct{}),
	}
	for range copyBuffers {
		v.free <- make([]byte, copyChunk)
	}
	go v.hash()
	return v
}

// hash hashes what arrives on full until full is closed, returning each
// buffer to free once hashed and checking each ended blob. After the first
// mismatch it only returns buffers.
func (v *verifier) hash() {
	defer close(v.done)
	h := sha256.New()
	for c := range v.full {
		switch {
		case v.err != nil:
		case c.end != nil:
			if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != c.end.digest.String() {
				v.err = blobError(c.end, &DamagedBlobError{Digest: c.end.digest, Detail: "content is " + got})
				v.failed.Store(true)
			}
			h.Reset()
		default:
			h.Write(c.data)
		}
		if c.data != nil {
			v.free <- c.data[:cap(c.data)]
		}
	}
}

// copy writes at most limit bytes of src to dst, hashing them as part of
// the current blob, and returns how many it wrote. A src shorter than
// limit is not an error: the count says so.
func (v *verifier) copy(dst io.Writer, src io.Reader, limit int64) (int64, error) {
	var n int64
	for n < limit {
		buf := <-v.free
		m, rerr := io.ReadFull(src, buf[:min(int64(len(buf)), limit-n)])
		if m == 0 {
			v.free <- buf
		} else {
			v.full <- chunk{data: buf[:m]}
			if _, err := dst.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return n, nil
		default:
			return n, rerr
		}
	}
	return n, nil
}

// end ends b's content: its digest is checked once all of it is hashed.
func (v *verifier) end(b *blob) { v.full <- chunk{end: b} }

// mismatched reports whether a blob already failed its digest check, so
// the writer can stop early; finish says which.
func (v *verifier) mismatched() bool { return v.failed.Load() }

// finish waits until everything handed over is hashed, stops the
// goroutine and returns the first blob that did not match its digest.
// v must not be used afterwards.
func (v *verifier) finish() error {
	close(v.full)
	<-v.done
	return v.err
}

// DamagedBlobError is a blob whose content does not match its digest or
// size, as Write found it: its source (a cache entry) is damaged.
type DamagedBlobError struct {
	Digest v1.Hash
	// Detail says what was found ("content is sha256:...").
	Detail string
}

func (e *DamagedBlobError) Error() string { return e.Detail }

// blobError names the blob (and an image it belongs to) err is about.
func blobError(b *blob, err error) error {
	return fmt.Errorf("image %s: blob %s: %w", b.image, b.digest, err)
}
