package diskimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// The disk's sha256 without a second pass over it. A build report gives
// every artifact's sha256, and the raw disk is mostly the payload: hashing
// the finished file meant reading gigabytes again after copying them.
// Instead the payload is copied last, by the kernel (copy_file_range, one
// core), while one sequential pass here (the other core) hashes the file
// from its start: the regions written before, then each part of PAYLOAD
// as soon as the copy reports it written, read back from the page cache
// the copy has just filled, then the regions after. The digest is thus of
// the bytes the file holds, not of what a source was expected to hold, and
// the whole costs about the longer of the copy and the hash instead of
// their sum.
//
// Most of the rest of the disk is holes (OS-B, the OS-A and PAYLOAD
// padding, most of the ESP and STATE). Reading a hole makes the kernel
// allocate and zero page-cache pages, which on a fresh file costs more
// than hashing them (reading and hashing 3 GiB of holes: 4.1 s, hashing
// as many zeros: 1.8 s), so outside PAYLOAD the hash asks the filesystem
// where the data is (sparseSpans) and hashes zeros for the holes.

// hashBuffer is how much the hash reads at a time.
const hashBuffer = 1 << 20

// errCopyStopped is what the hash returns when the copy it follows
// stopped early; finishDisk returns the copy's own error instead.
var errCopyStopped = errors.New("the payload copy stopped")

// finishDisk copies the payload, if any, into PAYLOAD. With h not nil it
// also writes the whole file to h in order (hashSpans), the payload's part
// as the copy proceeds; it syncs the file first, so that the filesystem
// tells the written regions' data from holes from its extents alone, and
// again once the copy is done, so that the payload's writeback overlaps
// the rest of the hash. Every region but PAYLOAD must be written before
// (writeImage's order; the mkfs.ext4 that made STATE has exited) and
// nothing may write to f after.
func finishDisk(ctx context.Context, f *os.File, p planned, h io.Writer) error {
	part, ok := p.layout.Partition(bootparam.LabelPayload)
	if h == nil {
		if !ok {
			return nil
		}
		return copyPayload(ctx, f, p.payload, part, nil)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	r, err := reopen(f)
	if err != nil {
		return err
	}
	defer r.Close()
	if !ok {
		return hashSpans(ctx, h, r, []span{{0, p.layout.Size, spanSparse}}, nil)
	}
	payloadEnd := part.Start + p.payload.size
	spans := []span{
		{0, part.Start, spanSparse},
		{part.Start, payloadEnd, spanCopied},
		{payloadEnd, part.Start + part.Size, spanZero},
		{part.Start + part.Size, p.layout.Size, spanSparse},
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// copied gets the payload's bytes copied so far, rising, once a chunk:
	// it has room for every chunk, so that the copy never waits on the
	// hash, and a send gives up when ctx is done anyway.
	copied := make(chan int64, p.payload.size/copyChunk+2)
	copyErr := make(chan error, 1)
	go func() {
		defer close(copied)
		err := copyPayload(ctx, f, p.payload, part, func(n int64) {
			select {
			case copied <- n:
			case <-ctx.Done():
			}
		})
		if err == nil {
			if err = f.Sync(); err != nil {
				err = fmt.Errorf("sync: %w", err)
			}
		}
		copyErr <- err
	}()
	err = hashSpans(ctx, h, r, spans, copied)
	if err != nil {
		cancel()
	}
	cerr := <-copyErr
	if err == nil || errors.Is(err, errCopyStopped) {
		return cerr
	}
	return err
}

// reopen opens f's file again, read-only, for the hash: the hash's
// SEEK_DATA and SEEK_HOLE move its own file offset, not the one the
// payload copy writes at. It must be f's file, not another that took its
// name.
func reopen(f *os.File) (*os.File, error) {
	r, err := os.Open(f.Name())
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	ri, err := r.Stat()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("hash: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("hash: %w", err)
	}
	if !os.SameFile(ri, fi) {
		r.Close()
		return nil, fmt.Errorf("hash: %s is no longer the disk image being written", f.Name())
	}
	return r, nil
}

// copyPayload copies the payload into its partition (sourceFile.copyTo).
func copyPayload(ctx context.Context, f *os.File, payload sourceFile, part Partition, copied func(int64)) error {
	if err := payload.copyTo(ctx, f, part.Start, copied); err != nil {
		return fmt.Errorf("partition %s: %w", part.Label, err)
	}
	return nil
}
