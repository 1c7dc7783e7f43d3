package progress

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPlainLogLines(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(false), Now: clock.Now})

	task := d.Task("pull images", 4, 100*MiB)
	task.Add(1, 30*MiB)
	clock.Advance(5 * time.Second)
	d.tick() // too soon for a line
	clock.Advance(5 * time.Second)
	d.tick()
	clock.Advance(5 * time.Second)
	task.Add(1, 10*MiB)
	d.tick()
	clock.Advance(5 * time.Second)
	d.tick()
	task.Add(2, 60*MiB)
	clock.Advance(5 * time.Second)
	task.Done(nil)
	clock.Advance(10 * time.Second)
	d.tick() // ended: no line
	d.Close()

	want := `time=2025-03-01T12:00:00.000Z level=INFO msg="task started" task="pull images" items_total=4 bytes_total="100.0 MiB"
time=2025-03-01T12:00:10.000Z level=INFO msg="task progress" task="pull images" items=1/4 bytes="30.0 MiB/100.0 MiB" rate="3.0 MiB/s" eta=23.3s elapsed=10s
time=2025-03-01T12:00:20.000Z level=INFO msg="task progress" task="pull images" items=2/4 bytes="40.0 MiB/100.0 MiB" rate="1.0 MiB/s" eta=1m0s elapsed=20s
time=2025-03-01T12:00:25.000Z level=INFO msg="task done" task="pull images" items=4 bytes="100.0 MiB" rate="4.0 MiB/s" elapsed=25s
`
	if got := out.String(); got != want {
		t.Errorf("log lines:\n%s\nwant:\n%s", got, want)
	}
}

func TestPlainFailedTask(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	d := newDisplay(&out, Options{Terminal: ptr(false), Now: clock.Now})

	task := d.Task("fetch k3s", 0, 0)
	task.Add(0, 512)
	clock.Advance(2 * time.Second)
	task.Done(errors.New("GET http://127.0.0.1/k3s: 404"))
	task.Done(nil) // ignored: already ended

	want := `time=2025-03-01T12:00:00.000Z level=INFO msg="task started" task="fetch k3s"
time=2025-03-01T12:00:02.000Z level=ERROR msg="task failed" task="fetch k3s" bytes="512 B" rate="256 B/s" elapsed=2s err="GET http://127.0.0.1/k3s: 404"
`
	if got := out.String(); got != want {
		t.Errorf("log lines:\n%s\nwant:\n%s", got, want)
	}
}

func TestPlainUsesGivenLogger(t *testing.T) {
	clock := newFakeClock()
	var logged, w bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "images")
	d := newDisplay(&w, Options{Terminal: ptr(false), Logger: logger, Now: clock.Now})

	d.Task("fine", 1, 0).Done(nil) // info lines: below the logger's level
	d.Task("broken", 1, 0).Done(errors.New("boom"))

	want := `time=2025-03-01T12:00:00.000Z level=ERROR msg="task failed" component=images task=broken items=0/1 elapsed=0s err=boom
`
	if got := logged.String(); got != want {
		t.Errorf("logger got:\n%s\nwant:\n%s", got, want)
	}
	if w.Len() != 0 {
		t.Errorf("writer got %q, want nothing when a Logger is given", w.String())
	}
}

func TestRegularFileGetsPlainLines(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := New(f, Options{Now: newFakeClock().Now})
	d.Task("write archive", 0, 0).Done(nil)
	d.Close()

	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "\x1b") || !strings.Contains(string(got), `msg="task done" task="write archive"`) {
		t.Errorf("a regular file got %q, want plain log lines", got)
	}
}
