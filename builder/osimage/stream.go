package osimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
)

// feed copies the tar stream to the tool's stdin, parsing it on the way so
// that a truncated or garbled stream is an error, and closes stdin.
// A failed write (the tool exited) is wrapped in errWrite.
func feed(stdin io.WriteCloser, stream io.Reader) error {
	w := &writeTracker{w: stdin}
	err := copyChecked(w, stream)
	if w.err != nil {
		err = fmt.Errorf("%w: %w", errWrite, w.err)
	}
	if cerr := stdin.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %w", errWrite, cerr)
	}
	return err
}

var errWrite = errors.New("write to tar2sqfs")

// writeTracker remembers the first write error.
type writeTracker struct {
	w   io.Writer
	err error
}

func (t *writeTracker) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil && t.err == nil {
		t.err = err
	}
	return n, err
}

func copyChecked(w io.Writer, stream io.Reader) error {
	tail := &tailWriter{}
	tee := io.TeeReader(stream, io.MultiWriter(w, tail))
	tr := tar.NewReader(tee)
	entries := 0
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar stream after %d entries: %w", entries, err)
		}
		entries++
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fmt.Errorf("read tar stream entry %d: %w", entries, err)
		}
	}
	if entries == 0 {
		return errors.New("tar stream has no entries")
	}
	// archive/tar accepts a stream cut at an entry boundary as a clean
	// end; a complete stream ends with two zero blocks.
	if !tail.endOfArchive() {
		return errors.New("tar stream is truncated: no end-of-archive marker")
	}
	// Pass on the end-of-archive blocks and any padding after them.
	if _, err := io.Copy(w, stream); err != nil {
		return err
	}
	return nil
}

// tailWriter keeps the count and the last 1024 bytes of what passes.
type tailWriter struct {
	n    int64
	last [1024]byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	if len(p) >= len(t.last) {
		copy(t.last[:], p[len(p)-len(t.last):])
	} else {
		copy(t.last[:], t.last[len(p):])
		copy(t.last[len(t.last)-len(p):], p)
	}
	return len(p), nil
}

func (t *tailWriter) endOfArchive() bool {
	if t.n < int64(len(t.last)) || t.n%512 != 0 {
		return false
	}
	for _, b := range t.last {
		if b != 0 {
			return false
		}
	}
	return true
}
