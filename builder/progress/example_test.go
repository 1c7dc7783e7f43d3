package progress_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/ml-appliance/appliance/builder/progress"
)

// In a CI log, a task writes a line when it starts and one when it ends
// (and, while it runs, one every Options.LogEvery).
func Example() {
	// A fixed clock and no record times keep this output stable; a real
	// caller leaves Logger and Now nil.
	var seconds atomic.Int64
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(seconds.Load()) * time.Second) }
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	plain := false // as on a terminal-less CI runner
	d := progress.New(os.Stdout, progress.Options{Terminal: &plain, Logger: logger, Now: clock})
	defer d.Close()

	t := d.Task("write archive", 2, 3<<20)
	for range 2 { // two layers of 1.5 MiB, one second each
		layer := bytes.NewReader(make([]byte, 3<<19))
		if _, err := io.Copy(io.Discard, t.Reader(layer)); err != nil {
			t.Done(err)
			return
		}
		t.Add(1, 0)
		seconds.Add(1)
	}
	t.Done(nil)

	failed := d.Task("fetch chart", 1, 0)
	failed.Done(errors.New("chart not in cache (offline)"))
	// Output:
	// level=INFO msg="task started" task="write archive" items_total=2 bytes_total="3.0 MiB"
	// level=INFO msg="task done" task="write archive" items=2 bytes="3.0 MiB" rate="1.5 MiB/s" elapsed=2s
	// level=INFO msg="task started" task="fetch chart" items_total=1
	// level=ERROR msg="task failed" task="fetch chart" items=0/1 elapsed=0s err="chart not in cache (offline)"
}
