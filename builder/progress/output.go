package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// ANSI sequences used on a terminal.
const (
	clearLine   = "\r\x1b[2K" // to column 0, erase the line
	clearBelow  = "\x1b[J"    // erase from the cursor to the end of the screen
	cursorUpFmt = "\x1b[%dA"  // up n lines
)

// redraw replaces the status lines on screen: first the lines that stay
// (a final line, or other output), if any, then one line per running task
// (none once closed). The cursor ends at the start of the line below. The
// caller holds d.mu.
func (d *Display) redraw(now time.Time, stay string) {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, cursorUpFmt, d.drawn)
	}
	if stay != "" {
		for line := range strings.SplitSeq(strings.TrimSuffix(stay, "\n"), "\n") {
			b.WriteString(clearLine + line + "\n")
		}
	}
	d.drawn = 0
	if !d.closed {
		for _, t := range d.tasks {
			s := t.snapshot(now)
			r, known := t.windowRate(s, now)
			b.WriteString(clearLine + d.fit(statusLine(s, r, known)) + "\n")
			d.drawn++
		}
	}
	b.WriteString(clearBelow)
	_, _ = io.WriteString(d.w, b.String())
}

// fit cuts a status line to one column less than the terminal width, so
// that it never wraps and the cursor-up count stays right.
func (d *Display) fit(line string) string {
	r := []rune(line)
	if limit := max(d.width-1, 1); len(r) > limit {
		return string(r[:limit])
	}
	return line
}

// logStart logs a task's start with its known totals.
func (d *Display) logStart(t *Task) {
	attrs := []slog.Attr{slog.String("task", t.name)}
	if t.itemsTotal > 0 {
		attrs = append(attrs, slog.Int64("items_total", t.itemsTotal))
	}
	if t.bytesTotal > 0 {
		attrs = append(attrs, slog.String("bytes_total", formatBytes(float64(t.bytesTotal))))
	}
	d.logAt(t.start, slog.LevelInfo, "task started", attrs...)
}

// logProgress logs a running task, its rate since its previous line.
func (d *Display) logProgress(t *Task, now time.Time) {
	s := t.snapshot(now)
	r, known := rate(t.logged, sample{at: now, bytes: s.bytes})
	attrs := append([]slog.Attr{slog.String("task", t.name)}, s.running(r, known)...)
	attrs = append(attrs, slog.String("elapsed", formatElapsed(s.elapsed)))
	d.logAt(now, slog.LevelInfo, "task progress", attrs...)
	t.logged = sample{at: now, bytes: s.bytes}
}

// logEnd logs an ended task's totals, elapsed time and mean rate; at error
// level with the error when it failed.
func (d *Display) logEnd(t *Task, now time.Time, err error) {
	s := t.snapshot(now)
	attrs := append([]slog.Attr{slog.String("task", t.name)}, s.ended()...)
	attrs = append(attrs, slog.String("elapsed", formatElapsed(s.elapsed)))
	if err != nil {
		d.logAt(now, slog.LevelError, "task failed", append(attrs, slog.String("err", err.Error()))...)
		return
	}
	d.logAt(now, slog.LevelInfo, "task done", attrs...)
}

// LogOutput returns a writer for other output to the Display's writer, such
// as the handler of the program's own logger. On a terminal each write is
// printed, as whole lines (a missing final newline is added), above the
// status lines, which are drawn again below it; elsewhere it is the writer
// itself. A nil Display returns io.Discard.
func (d *Display) LogOutput() io.Writer {
	switch {
	case d == nil:
		return io.Discard
	case !d.terminal:
		return d.w
	}
	return aboveStatus{d}
}

// aboveStatus prints writes above a terminal's status lines.
type aboveStatus struct{ d *Display }

func (a aboveStatus) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	a.d.redraw(a.d.now(), string(p))
	return len(p), nil
}
