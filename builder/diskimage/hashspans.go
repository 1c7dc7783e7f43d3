package diskimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// spanKind says how hashSpans gets a span's bytes.
type spanKind int

const (
	// spanSparse was written and synced before the hash: its data is
	// read, its holes (SEEK_DATA, SEEK_HOLE) hashed as zeros unread.
	spanSparse spanKind = iota
	// spanCopied is being written by the payload copy: read as far as the
	// copy reports it written, waiting for it.
	spanCopied
	// spanZero is never written: zeros, as the file was created empty
	// and sized.
	spanZero
)

// span is the bytes [start, end) of the disk file and how to get them.
type span struct {
	start, end int64
	kind       spanKind
}

// hashSpans writes the spans of f to h, in order; they must follow each
// other. For a spanCopied span, copied gets the bytes copied from the
// span's start so far, rising, and is closed when the copy ends: before
// the span's end means the copy stopped (errCopyStopped). It stops
// between reads when ctx is done.
func hashSpans(ctx context.Context, h io.Writer, f *os.File, spans []span, copied <-chan int64) error {
	s := spanHasher{ctx: ctx, h: h, f: f, buf: make([]byte, hashBuffer), zeros: make([]byte, hashBuffer)}
	for _, sp := range spans {
		var err error
		switch sp.kind {
		case spanSparse:
			err = s.sparse(sp.start, sp.end)
		case spanCopied:
			err = s.copied(sp.start, sp.end, copied)
		case spanZero:
			err = s.zero(sp.end - sp.start)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// spanHasher is hashSpans' state: where the bytes go, the file they come
// from, a read buffer and a buffer of zeros.
type spanHasher struct {
	ctx        context.Context
	h          io.Writer
	f          *os.File
	buf, zeros []byte
}

// read hashes the file's bytes [off, end).
func (s spanHasher) read(off, end int64) error {
	for off < end {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		chunk := s.buf[:min(int64(len(s.buf)), end-off)]
		if _, err := s.f.ReadAt(chunk, off); err != nil {
			return fmt.Errorf("hash: %w", err)
		}
		if _, err := s.h.Write(chunk); err != nil {
			return fmt.Errorf("hash: %w", err)
		}
		off += int64(len(chunk))
	}
	return nil
}

// zero hashes n zeros.
func (s spanHasher) zero(n int64) error {
	for n > 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		chunk := s.zeros[:min(int64(len(s.zeros)), n)]
		if _, err := s.h.Write(chunk); err != nil {
			return fmt.Errorf("hash: %w", err)
		}
		n -= int64(len(chunk))
	}
	return nil
}

// sparse hashes the file's bytes [off, end): the data the filesystem
// reports read, the holes as zeros. A filesystem that cannot say where
// its data is gets all of it read.
func (s spanHasher) sparse(off, end int64) error {
	fd := int(s.f.Fd())
	for off < end {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO): // no data from off on
			data = end
		case err != nil:
			return s.read(off, end)
		}
		data = min(data, end)
		if err := s.zero(data - off); err != nil {
			return err
		}
		if data == end {
			return nil
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil || hole <= data {
			hole = end
		}
		hole = min(hole, end)
		if err := s.read(data, hole); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

// copied hashes the file's bytes [start, end) as the copy reports them
// written on copied.
func (s spanHasher) copied(start, end int64, copied <-chan int64) error {
	for off, ready := start, start; off < end; off = ready {
		for off >= ready {
			n, ok := <-copied
			if !ok {
				return errCopyStopped
			}
			ready = min(start+n, end)
		}
		if err := s.read(off, ready); err != nil {
			return err
		}
	}
	return nil
}
