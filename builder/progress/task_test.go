package progress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNilDisplayAndTaskDoNothing(t *testing.T) {
	var d *Display
	task := d.Task("anything", 3, 100)
	if task != nil {
		t.Fatalf("nil Display returned Task %v, want nil", task)
	}
	task.Add(1, 10)
	r, w := strings.NewReader("x"), new(bytes.Buffer)
	if got := task.Reader(r); got != r {
		t.Errorf("nil Task Reader returned %v, want its argument", got)
	}
	if got := task.Writer(w); got != w {
		t.Errorf("nil Task Writer returned %v, want its argument", got)
	}
	task.Done(errors.New("ignored"))
	d.Close()
}

func TestReaderAndWriterCountBytes(t *testing.T) {
	d := newDisplay(io.Discard, Options{Terminal: ptr(false), Now: newFakeClock().Now})
	task := d.Task("copy", 0, 0)
	data := strings.Repeat("0123456789", 1000)
	var dst bytes.Buffer
	n, err := io.Copy(task.Writer(&dst), task.Reader(strings.NewReader(data)))
	if err != nil || n != int64(len(data)) || dst.String() != data {
		t.Fatalf("copy through Reader and Writer: %d bytes, %v; want the %d bytes unchanged", n, err, len(data))
	}
	if got, want := task.bytes.Load(), 2*int64(len(data)); got != want {
		t.Errorf("counted %d bytes, want %d (read once, written once)", got, want)
	}
}

func TestWriterCountsOnlyBytesWritten(t *testing.T) {
	d := newDisplay(io.Discard, Options{Terminal: ptr(false), Now: newFakeClock().Now})
	task := d.Task("write", 0, 0)
	full := errors.New("disk full")
	_, err := task.Writer(shortWriter{limit: 7, err: full}).Write(make([]byte, 10))
	if !errors.Is(err, full) {
		t.Errorf("Write error %v, want %v passed through", err, full)
	}
	if got := task.bytes.Load(); got != 7 {
		t.Errorf("counted %d bytes, want the 7 written", got)
	}
}

type shortWriter struct {
	limit int
	err   error
}

func (w shortWriter) Write(p []byte) (int, error) { return min(len(p), w.limit), w.err }

// TestConcurrentUse feeds tasks from many goroutines while the loop redraws
// every millisecond; run with -race. The counts must be exact and the
// screen consistent afterwards.
func TestConcurrentUse(t *testing.T) {
	const workers, chunks = 8, 500
	var out bytes.Buffer // written only under the Display's lock; read after Close
	d := New(&out, Options{Terminal: ptr(true), Interval: time.Millisecond, Width: 200})
	shared := d.Task("shared", workers*chunks, workers*chunks*KiB)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			own := d.Task(fmt.Sprintf("worker %d", i), 0, 0)
			w := shared.Writer(own.Writer(io.Discard))
			for range chunks {
				if _, err := w.Write(make([]byte, KiB)); err != nil {
					t.Error(err)
				}
				shared.Add(1, 0)
			}
			own.Done(nil)
		})
	}
	wg.Wait()
	shared.Done(nil)
	d.Close()

	if got, want := shared.bytes.Load(), int64(workers*chunks*KiB); got != want {
		t.Errorf("shared task counted %d bytes, want %d", got, want)
	}
	lines := strings.Split(strings.TrimSuffix(replay(t, out.String()).text(), "<cursor at col 0>\n"), "\n")
	lines = lines[:len(lines)-1] // after the last newline
	if len(lines) != workers+1 {
		t.Fatalf("screen has %d lines, want %d final lines:\n%s", len(lines), workers+1, strings.Join(lines, "\n"))
	}
	for _, l := range lines[:workers] {
		if !strings.HasPrefix(l, "worker ") || !strings.Contains(l, ": done in ") || !strings.Contains(l, ", 500.0 KiB") {
			t.Errorf("screen line %q, want a worker's final line with 500.0 KiB", l)
		}
	}
	if l := lines[workers]; !strings.HasPrefix(l, "shared: done in ") || !strings.Contains(l, ", 4000 items, 3.9 MiB") {
		t.Errorf("last screen line %q, want the shared task's final line with 4000 items, 3.9 MiB", l)
	}
}

func TestConcurrentPlainLines(t *testing.T) {
	const tasks = 20
	var out bytes.Buffer
	d := New(&out, Options{Terminal: ptr(false), Interval: time.Millisecond, LogEvery: time.Millisecond})
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Go(func() {
			task := d.Task(fmt.Sprintf("task %d", i), 1, 0)
			time.Sleep(2 * time.Millisecond) // lets the loop log some progress lines
			task.Add(1, 0)
			task.Done(nil)
		})
	}
	wg.Wait()
	d.Close()
	text := out.String()
	for i := range tasks {
		for _, msg := range []string{"task started", "task done"} {
			want := fmt.Sprintf(`msg=%q task="task %d"`, msg, i)
			if n := strings.Count(text, want+" "); n != 1 {
				t.Errorf("%d lines with %s, want 1", n, want)
			}
		}
	}
	if n := strings.Count(text, "\n"); n < 2*tasks || strings.Count(text, "time=") != n {
		t.Errorf("output is not whole lines, one record each:\n%s", text)
	}
}

// BenchmarkTaskWriter measures the counting cost on a 32 KiB write, the
// io.Copy buffer size.
func BenchmarkTaskWriter(b *testing.B) {
	d := New(io.Discard, Options{Terminal: ptr(true)})
	defer d.Close()
	w := d.Task("bench", 0, 0).Writer(io.Discard)
	buf := make([]byte, 32*KiB)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
