package progress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestTerminalFrames(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(true), Width: 80, Now: clock.Now})
	images := d.Task("pull images", 12, 1.5*GiB)
	k3s := d.Task("fetch k3s", 0, 0)
	images.Add(3, 300*MiB)
	k3s.Add(0, 5*MiB)

	step := func(name string, do func(), want string) {
		t.Helper()
		out.Reset()
		do()
		if got := out.String(); got != want {
			t.Errorf("%s wrote\n%q, want\n%q", name, got, want)
		}
	}
	step("first tick", func() { clock.Advance(time.Second); d.tick() },
		"\r\x1b[2Kpull images  3/12 items  300.0 MiB/1.5 GiB  300.0 MiB/s  ETA 4.1s\n"+
			"\r\x1b[2Kfetch k3s  5.0 MiB  5.0 MiB/s\n\x1b[J")
	step("Done", func() { clock.Advance(time.Second); k3s.Done(nil) },
		"\x1b[2A\r\x1b[2Kfetch k3s: done in 2s, 5.0 MiB, 2.5 MiB/s\n"+
			"\r\x1b[2Kpull images  3/12 items  300.0 MiB/1.5 GiB  150.0 MiB/s  ETA 8.2s\n\x1b[J")
	step("Close", d.Close,
		"\x1b[1A\r\x1b[2Kpull images  3/12 items  300.0 MiB/1.5 GiB  150.0 MiB/s  ETA 8.2s\n\x1b[J")
	step("tick after Close", d.tick, "")
	step("Done after Close", func() { clock.Advance(2 * time.Second); images.Done(errors.New("registry 127.0.0.1:5000: EOF")) },
		"\r\x1b[2Kpull images: FAILED after 4s, 3/12 items, 300.0 MiB/1.5 GiB, 75.0 MiB/s: registry 127.0.0.1:5000: EOF\n\x1b[J")
}

// TestTerminalScreen replays the output as a terminal shows it: while tasks
// run, final lines of ended tasks above one status line per running task;
// at the end, only final lines and the cursor below them.
func TestTerminalScreen(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(true), Width: 80, Now: clock.Now})
	a := d.Task("kernel", 0, 10*MiB)
	b := d.Task("charts", 3, 0)
	c := d.Task("images", 2, 0)
	for i := range 4 {
		clock.Advance(time.Second)
		a.Add(0, MiB)
		b.Add(i%2, 0)
		d.tick()
	}
	b.Add(1, 0)
	b.Done(nil)
	d.tick()
	want := "charts: done in 4s, 3 items\n" +
		"kernel  4.0 MiB/10.0 MiB  1.0 MiB/s  ETA 6s\n" +
		"images  0/2 items\n" +
		"<cursor at col 0>\n"
	if got := replay(t, out.String()).text(); got != want {
		t.Errorf("screen while running:\n%s\nwant:\n%s", got, want)
	}

	clock.Advance(time.Second)
	a.Add(0, 6*MiB)
	a.Done(nil)
	c.Add(2, 0)
	d.tick()
	c.Done(nil)
	d.Close()
	want = "charts: done in 4s, 3 items\n" +
		"kernel: done in 5s, 10.0 MiB, 2.0 MiB/s\n" +
		"images: done in 5s, 2 items\n" +
		"<cursor at col 0>\n"
	if got := replay(t, out.String()).text(); got != want {
		t.Errorf("screen after Close:\n%s\nwant:\n%s", got, want)
	}
}

func TestTerminalRateIsRecent(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(true), Width: 80, Now: clock.Now})
	task := d.Task("download", 0, 100*MiB)
	frame := func() string {
		out.Reset()
		d.tick()
		return strings.TrimSuffix(replay(t, out.String()).text(), "<cursor at col 0>\n")
	}

	task.Add(0, 30*MiB)
	clock.Advance(3 * time.Second)
	if got, want := frame(), "download  30.0 MiB/100.0 MiB  10.0 MiB/s  ETA 7s\n"; got != want {
		t.Errorf("after 3s at 10 MiB/s: %q, want %q", got, want)
	}
	clock.Advance(3 * time.Second) // stalled: the window moves past the burst
	if got, want := frame(), "download  30.0 MiB/100.0 MiB  0 B/s\n"; got != want {
		t.Errorf("after a 3s stall: %q, want %q", got, want)
	}
	task.Add(0, 6*MiB)
	clock.Advance(time.Second)
	if got, want := frame(), "download  36.0 MiB/100.0 MiB  1.5 MiB/s  ETA 42.7s\n"; got != want {
		t.Errorf("6 MiB in the last 4s: %q, want %q", got, want)
	}
}

func TestTerminalCutsStatusLinesToWidth(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(true), Width: 20, Now: newFakeClock().Now})
	task := d.Task("façade über-long task name", 0, 0)
	d.tick()
	if got, want := replay(t, out.String()).text(), "façade über-long ta\n<cursor at col 0>\n"; got != want {
		t.Errorf("status line cut to width 20:\n%q, want\n%q", got, want)
	}
	task.Done(nil) // final lines are whole: they are drawn once and may wrap
	if got, want := replay(t, out.String()).text(), "façade über-long task name: done in 0s\n<cursor at col 0>\n"; got != want {
		t.Errorf("final line:\n%q, want\n%q", got, want)
	}
}

// chanWriter hands each write to the test.
type chanWriter chan string

func (w chanWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default: // the test has seen enough
	}
	return len(p), nil
}

func TestLoopRedrawsTerminal(t *testing.T) {
	w := make(chanWriter, 1)
	d := New(w, Options{Terminal: ptr(true), Interval: time.Millisecond})
	defer d.Close()
	d.Task("fetch k3s", 0, 0).Add(0, 2*KiB)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case frame := <-w:
			if strings.Contains(frame, "\r\x1b[2Kfetch k3s  2.0 KiB  ") {
				return
			}
		case <-timeout:
			t.Fatal("the redraw loop drew no status line of the running task in 10s")
		}
	}
}

func TestLogOutputAppearsAboveStatusLines(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(true), Width: 80, Now: clock.Now})
	logger := slog.New(slog.NewTextHandler(d.LogOutput(), &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	a := d.Task("charts", 2, 0)
	b := d.Task("images", 5, 0)
	d.tick()
	logger.Info("cache hit", "chart", "traefik")
	a.Add(1, 0)
	b.Done(errors.Join(errors.New("pull a: EOF"), errors.New("pull b: EOF")))
	d.tick()
	fmt.Fprint(d.LogOutput(), "no newline")

	want := "level=INFO msg=\"cache hit\" chart=traefik\n" +
		"images: FAILED after 0s, 0/5 items: pull a: EOF\n" +
		"pull b: EOF\n" +
		"no newline\n" +
		"charts  1/2 items\n" +
		"<cursor at col 0>\n"
	if got := replay(t, out.String()).text(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
}

func TestLogOutputOffTerminal(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(false)})
	fmt.Fprint(d.LogOutput(), "as is")
	if out.String() != "as is" {
		t.Errorf("LogOutput off a terminal wrote %q, want the text unchanged", out.String())
	}
	var none *Display
	if none.LogOutput() != io.Discard {
		t.Error("nil Display LogOutput is not io.Discard")
	}
}
