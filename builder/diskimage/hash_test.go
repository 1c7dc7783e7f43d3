package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ml-appliance/appliance/builder/report"
)

// WriteHashed's digest is the report's sha256 of the file it wrote
// (report.HashFile reads the whole file back), and the file is Write's:
// without a payload, with a small one and the secrets volume, and with a
// payload of three copy chunks in a disk of 320 MiB whose OS-B and STATE
// (what PAYLOAD leaves) are holes. The payloads' sizes are no multiple of
// a MiB, so PAYLOAD ends in padding.
func TestWriteHashedIsTheFilesSHA256(t *testing.T) {
	base := smallOptions(t, testSquashfs(t))
	small, _ := testPayload(t, 1<<20+4321)
	large := filepath.Join(t.TempDir(), "large.tar")
	writeTarPayload(t, large, 2*copyChunk+3*MiB/2+7*512)
	secrets := filepath.Join(t.TempDir(), "secrets.img")
	writeFile(t, secrets, pseudoRandom(4096))
	for _, c := range []struct {
		name   string
		change func(*Options)
	}{
		{"no payload", func(*Options) {}},
		{"small payload and secrets", func(o *Options) { o.Payload, o.Secrets = small, secrets }},
		{"payload of three chunks, sparse 320 MiB disk", func(o *Options) { o.Payload, o.Size = large, 320*MiB }},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := base
			c.change(&opts)
			dir := t.TempDir()
			img := filepath.Join(dir, "hashed.raw")
			l, sum, err := WriteHashed(context.Background(), img, opts)
			if err != nil {
				t.Fatal(err)
			}
			size, want, err := report.HashFile(img)
			if err != nil {
				t.Fatal(err)
			}
			if sum != want || l.Size != size {
				t.Errorf("WriteHashed: %d bytes, sha256 %s; the file has %d bytes, sha256 %s", l.Size, sum, size, want)
			}
			plain := filepath.Join(dir, "plain.raw")
			if _, err := Write(context.Background(), plain, opts); err != nil {
				t.Fatal(err)
			}
			if _, plainSum, err := report.HashFile(plain); err != nil || plainSum != want {
				t.Errorf("WriteHashed and Write wrote different files (%v)", err)
			}
			// The holes are part of what was hashed: OS-B at least is one.
			var st syscall.Stat_t
			if err := syscall.Stat(img, &st); err != nil {
				t.Fatal(err)
			}
			if hole := l.mustPartition("OS-B").Size; st.Blocks*512 > l.Size-hole {
				t.Errorf("image of %d bytes has %d allocated: OS-B is no hole", l.Size, st.Blocks*512)
			}
		})
	}
}

// A payload that shrinks after it was measured stops the copy, and the
// hash that follows the copy stops with it: the copy's error, no hang.
func TestWriteHashedStopsWithTheCopy(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	opts.Payload = filepath.Join(t.TempDir(), "payload.tar")
	writeTarPayload(t, opts.Payload, copyChunk+MiB)
	p, err := plan(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if err := os.Truncate(opts.Payload, copyChunk/2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(p.layout.Size); err != nil {
		t.Fatal(err)
	}
	err = finishDisk(context.Background(), f, p, sha256.New())
	if err == nil || !strings.HasPrefix(err.Error(), "partition PAYLOAD: copy image payload ") || !strings.HasSuffix(err.Error(), "(did it shrink?)") {
		t.Errorf("finishDisk with a shrunk payload: %v, want the copy's error", err)
	}
}

// failingHash is a test double for the sha256 WriteHashed feeds: it
// counts what it is given and, past limit bytes, calls stop and fails with
// its error if any: a hash that fails, or a build cancelled mid-way.
type failingHash struct {
	n, limit int64
	stop     func() error
}

func (h *failingHash) Write(b []byte) (int, error) {
	h.n += int64(len(b))
	if h.n > h.limit {
		if err := h.stop(); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// A build cancelled while the payload is copied and hashed ends with
// context.Canceled, and a hash that fails with the hash's error, not the
// cancellation it causes the copy.
func TestWriteHashedStopsMidway(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	opts.Payload = filepath.Join(t.TempDir(), "payload.tar")
	writeTarPayload(t, opts.Payload, 3*copyChunk)
	// Inside PAYLOAD, which starts at 82 MiB (TestWritePayloadPartition).
	const limit = 82*MiB + copyChunk/2
	errHash := errors.New("hash failed")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, c := range map[string]struct {
		ctx  context.Context
		stop func() error
		want error
	}{
		"cancelled":  {ctx, func() error { cancel(); return nil }, context.Canceled},
		"hash fails": {context.Background(), func() error { return errHash }, errHash},
	} {
		t.Run(name, func(t *testing.T) {
			h := &failingHash{limit: limit, stop: c.stop}
			_, err := writeDisk(c.ctx, filepath.Join(t.TempDir(), "disk.raw"), opts, h)
			if !errors.Is(err, c.want) {
				t.Errorf("writeDisk: %v, want %v", err, c.want)
			}
		})
	}
}

// watchedHash is a test double for the hash hashSpans feeds: it hashes
// what it is given, records whether it was ever given a byte at or past
// the offset the test last declared written, and says on caughtUp when it
// has every byte below it.
type watchedHash struct {
	sum      hash.Hash
	n        int64
	written  atomic.Int64
	overran  atomic.Bool
	caughtUp chan struct{}
}

func (h *watchedHash) Write(b []byte) (int, error) {
	h.sum.Write(b)
	h.n += int64(len(b))
	switch w := h.written.Load(); {
	case h.n > w:
		h.overran.Store(true)
	case h.n == w:
		h.caughtUp <- struct{}{}
	}
	return len(b), nil
}

// A span being copied: hashSpans reads no byte of it before it is
// declared written, however far its reads could go, and hashes it all in
// order. The test
// declares an offset only once the hash has every byte below the last
// one, so reading ahead cannot hide behind timing.
func TestHashSpansReadsOnlyWhatIsCopied(t *testing.T) {
	data := pseudoRandom(3*hashBuffer + 12345)
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	h := &watchedHash{sum: sha256.New(), caughtUp: make(chan struct{}, 1)}
	written := make(chan int64)
	done := make(chan error, 1)
	go func() {
		done <- hashSpans(context.Background(), h, f, []span{{0, int64(len(data)), spanCopied}}, written)
	}()
	var prev int64
	// Offsets inside a read, on a read's boundary, and the end.
	for _, off := range []int64{100, hashBuffer + 7, 2 * hashBuffer, int64(len(data))} {
		if _, err := f.WriteAt(data[prev:off], prev); err != nil {
			t.Fatal(err)
		}
		h.written.Store(off)
		written <- off
		select {
		case <-h.caughtUp:
		case err := <-done:
			t.Fatalf("hashSpans returned (%v) with %d of %d bytes declared written", err, off, len(data))
		}
		if h.overran.Load() {
			t.Fatalf("hashSpans read past offset %d before it was declared written", prev)
		}
		prev = off
	}
	close(written)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.sum.Sum(nil), want[:]) {
		t.Errorf("hashSpans' sha256 is not the file's")
	}
}

// Sparse and zero spans hash as the file's bytes: data at unaligned
// places between holes, a hole at the start and one at the end, and
// spans that start and end inside data and holes.
func TestHashSpansSparse(t *testing.T) {
	const size = 40 * MiB
	f, err := os.Create(filepath.Join(t.TempDir(), "sparse.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{3*MiB + 17, 3*MiB + hashBuffer + 5, 20 * MiB, 31*MiB - 1} {
		if _, err := f.WriteAt(pseudoRandom(int(off%(2*MiB)+1000)), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_, want, err := report.HashFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	for name, spans := range map[string][]span{
		"one sparse span": {{0, size, spanSparse}},
		"cut inside data and holes": {
			{0, 3*MiB + 100, spanSparse}, {3*MiB + 100, 10 * MiB, spanSparse},
			{10 * MiB, 12 * MiB, spanZero}, {12 * MiB, 20*MiB + 1, spanSparse}, {20*MiB + 1, size, spanSparse},
		},
	} {
		h := sha256.New()
		if err := hashSpans(context.Background(), h, f, spans, nil); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s: sha256 %s, the file's is %s", name, got, want)
		}
	}
}
