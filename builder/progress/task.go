package progress

import (
	"io"
	"sync/atomic"
	"time"
)

// rateWindow is the shortest span over which a terminal line's rate is
// measured; the span is between one and two windows long.
const rateWindow = 3 * time.Second

// Task is one piece of long work tracked by a Display. Its methods are safe
// for concurrent use; on a nil Task they do nothing.
type Task struct {
	d          *Display
	name       string
	itemsTotal int64
	bytesTotal int64
	start      time.Time

	items atomic.Int64
	bytes atomic.Int64
	ended atomic.Bool

	// Guarded by d.mu.
	older, recent sample // two samples spanning the terminal's rate window
	logged        sample // at the last plain log line
}

// sample is a byte count at a moment.
type sample struct {
	at    time.Time
	bytes int64
}

// Add counts items and bytes done.
func (t *Task) Add(items int, bytes int64) {
	if t == nil {
		return
	}
	if items != 0 {
		t.items.Add(int64(items))
	}
	if bytes != 0 {
		t.bytes.Add(bytes)
	}
}

// Reader returns r counting the bytes read through it.
func (t *Task) Reader(r io.Reader) io.Reader {
	if t == nil {
		return r
	}
	return &countingReader{r: r, t: t}
}

// Writer returns w counting the bytes written through it.
func (t *Task) Writer(w io.Writer) io.Writer {
	if t == nil {
		return w
	}
	return &countingWriter{w: w, t: t}
}

// Done ends the task and prints its final line, saying it failed if err is
// not nil. Later calls do nothing.
func (t *Task) Done(err error) {
	if t == nil || !t.ended.CompareAndSwap(false, true) {
		return
	}
	t.d.finish(t, err)
}

// snapshot reads the counters at now.
func (t *Task) snapshot(now time.Time) snapshot {
	return snapshot{name: t.name, items: t.items.Load(), itemsTotal: t.itemsTotal,
		bytes: t.bytes.Load(), bytesTotal: t.bytesTotal, elapsed: now.Sub(t.start)}
}

// windowRate returns the rate over the last one to two rate windows,
// moving the window on when due. The caller holds d.mu.
func (t *Task) windowRate(s snapshot, now time.Time) (float64, bool) {
	if now.Sub(t.recent.at) >= rateWindow {
		t.older, t.recent = t.recent, sample{at: now, bytes: s.bytes}
	}
	return rate(t.older, sample{at: now, bytes: s.bytes})
}

// rate returns bytes per second between two samples; false when no time
// passed.
func rate(from, to sample) (float64, bool) {
	dt := to.at.Sub(from.at).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return float64(to.bytes-from.bytes) / dt, true
}

type countingReader struct {
	r io.Reader
	t *Task
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.t.Add(0, int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	t *Task
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.t.Add(0, int64(n))
	return n, err
}
