// Package progress shows how far long work has got: downloads, image pulls,
// archive writes. On a terminal it redraws one status line per running task
// in place (name, items, bytes, rate, ETA); anywhere else (CI logs, files) it
// writes plain log lines through log/slog: one when a task starts, at most one
// every Options.LogEvery while it runs, and one when it ends with totals,
// elapsed time and mean rate.
//
// Counting is lock-free, so a task can be fed from several goroutines. A nil
// *Display and a nil *Task do nothing (Reader and Writer return their
// argument), so code that reports progress needs no checks when its caller
// wants none:
//
//	d := progress.New(os.Stderr, progress.Options{})
//	defer d.Close()
//	t := d.Task("pull images", len(refs), 0) // 0: total bytes unknown
//	for _, ref := range refs {
//		if err := pull(ctx, ref, t.Writer(archive)); err != nil {
//			t.Done(err) // "pull images: FAILED after 3.2s, 2/12 items, …: <err>"
//			return err
//		}
//		t.Add(1, 0)
//	}
//	t.Done(nil)
//
// Output errors are ignored: a broken terminal must not fail a build.
package progress

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/term"
)

// Options configures a Display. The zero value detects the mode from the
// writer and uses the defaults below.
type Options struct {
	// Interval is how often a terminal is redrawn and running tasks are
	// checked for a due log line; 200ms when 0.
	Interval time.Duration
	// LogEvery bounds plain log lines of a running task to one per period;
	// 10s when 0.
	LogEvery time.Duration
	// Logger receives the plain log lines; when nil, a text handler on the
	// writer. Unused on a terminal.
	Logger *slog.Logger
	// Terminal forces the mode; when nil, terminal if the writer is an
	// *os.File on a terminal.
	Terminal *bool
	// Width is the terminal width in columns, to which status lines are cut;
	// when 0, asked of the terminal, else 80.
	Width int
	// Now is the clock; time.Now when nil. Record times of log lines come
	// from it too.
	Now func() time.Time
}

// Display draws the progress of tasks on one writer.
type Display struct {
	w        io.Writer
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	logEvery time.Duration
	terminal bool
	width    int

	stop      chan struct{} // nil when no background loop runs (tests)
	stopped   chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex // orders all output; guards the fields below
	tasks  []*Task    // running, in start order
	drawn  int        // status lines on screen above the cursor
	closed bool
}

// New returns a Display writing to w and starts its redraw loop; Close
// stops it.
func New(w io.Writer, opts Options) *Display {
	d := newDisplay(w, opts)
	d.stop = make(chan struct{})
	d.stopped = make(chan struct{})
	go d.loop()
	return d
}

// newDisplay returns a Display without its loop: tests call tick instead.
func newDisplay(w io.Writer, opts Options) *Display {
	d := &Display{w: w, log: opts.Logger, now: opts.Now, interval: opts.Interval,
		logEvery: opts.LogEvery, width: opts.Width}
	if d.now == nil {
		d.now = time.Now
	}
	if d.interval <= 0 {
		d.interval = 200 * time.Millisecond
	}
	if d.logEvery <= 0 {
		d.logEvery = 10 * time.Second
	}
	f, isFile := w.(*os.File)
	if opts.Terminal != nil {
		d.terminal = *opts.Terminal
	} else {
		d.terminal = isFile && term.IsTerminal(int(f.Fd()))
	}
	if d.terminal && d.width <= 0 && isFile {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			d.width = cols
		}
	}
	if d.width <= 0 {
		d.width = 80
	}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(w, nil))
	}
	return d
}

// Task starts tracking a task; items and bytes are its totals, 0 when
// unknown. On a nil Display it returns a nil Task, which does nothing.
func (d *Display) Task(name string, items int, bytes int64) *Task {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	start := sample{at: now}
	t := &Task{d: d, name: name, itemsTotal: int64(items), bytesTotal: bytes,
		start: now, older: start, recent: start, logged: start}
	d.tasks = append(d.tasks, t)
	if !d.terminal {
		d.logStart(t)
	}
	return t
}

// Close stops the redraw loop. On a terminal it draws the running tasks a
// last time and leaves the cursor below them; tasks ending later print only
// their final line. Close is idempotent; a nil Display does nothing.
func (d *Display) Close() {
	if d == nil {
		return
	}
	d.closeOnce.Do(func() {
		if d.stop != nil {
			close(d.stop)
			<-d.stopped
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.terminal {
			d.redraw(d.now(), "")
		}
		d.closed = true
		d.drawn = 0
	})
}

func (d *Display) loop() {
	defer close(d.stopped)
	ticker := time.NewTicker(d.interval)
	defer ticker.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-ticker.C:
			d.tick()
		}
	}
}

// tick redraws the terminal, or logs the running tasks whose line is due.
func (d *Display) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	now := d.now()
	if d.terminal {
		d.redraw(now, "")
		return
	}
	for _, t := range d.tasks {
		if now.Sub(t.logged.at) >= d.logEvery {
			d.logProgress(t, now)
		}
	}
}

// finish removes t from the running tasks and prints its final line.
func (d *Display) finish(t *Task, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.tasks = slices.DeleteFunc(d.tasks, func(x *Task) bool { return x == t })
	if d.terminal {
		d.redraw(now, finalLine(t.snapshot(now), err))
	} else {
		d.logEnd(t, now, err)
	}
}

// logAt writes one log line whose record time comes from the Display's
// clock, so that log times agree with the elapsed times in the lines.
func (d *Display) logAt(now time.Time, level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !d.log.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(now, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = d.log.Handler().Handle(ctx, r)
}
