package build

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
)

// The bench payload: one layer every image shares and one of its own per
// image, seven images: 1 GiB + 7 × 585 MiB, 5 GiB of image content.
const (
	benchSharedLayer = 1 << 30
	benchOwnLayer    = 585 << 20
)

// BenchmarkRebuildWarmLockedVsCold builds the platform fixture with a 5 GiB
// payload (two charts, seven images of a shared 1 GiB layer and a 585 MiB
// one each, through registry and chart mirrors on 127.0.0.1, a stand-in
// base and K3s, an overlay) cold (empty cache, no lock), then changes one
// overlay file and builds again into the same output directory, warm with
// the lock the cold build's cache resolves to. It fails if the warm build
// made a request, and reports both times, their ratio, and the part of
// each spent in the output formats (-formats-s: from the first format to
// the end). Each build's timeline (its log lines) is logged.
//
// It does so for two sites: "raw" builds the raw disk, which carries the
// payload in its PAYLOAD partition (a copy of 5 GiB and a sha256 of the
// whole disk in every build); "netboot" builds the PXE bundle, which
// does not. In the raw round it also builds the changed inputs cold into
// another directory (with the cluster identity the first build kept, and
// an empty cache) and fails unless every artifact has the warm build's
// sha256. It needs ~30 GB free in $TMPDIR.
func BenchmarkRebuildWarmLockedVsCold(b *testing.B) {
	f := newPlatformFixtureStreamed(b, benchSharedLayer, benchOwnLayer)
	overlay := filepath.Join(f.work, "overlay")
	f.site.OS.Overlays = []string{overlay}
	for _, tc := range []struct {
		name    string
		outputs site.Outputs
	}{
		{"raw", site.Outputs{Raw: &site.RawOutput{}}},
		{"netboot", site.Outputs{PXE: &site.PXEOutput{}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f.site.Outputs = tc.outputs
			f.site.SetDefaults()
			benchRebuild(b, f, overlay, tc.name == "raw")
		})
	}
}

func benchRebuild(b *testing.B, f *platformFixture, overlay string, compare bool) {
	var cold, warm, coldFormats, warmFormats time.Duration
	for i := 0; b.Loop(); i++ {
		f.opts.CacheDir = filepath.Join(f.work, fmt.Sprintf("cache-%d", i))
		f.opts.Lock, f.opts.LockPath, f.opts.Locked = nil, "", false
		writeOverlayFile(b, overlay, fmt.Sprintf("round %d, before\n", i))
		t, _ := timedBuild(b, f, "out", "cold")
		cold, coldFormats = cold+t.total, coldFormats+t.formats

		c, err := OpenCache(f.site, cache.Options{Dir: f.opts.CacheDir})
		if err != nil {
			b.Fatal(err)
		}
		res, err := Resolve(context.Background(), f.site, ResolveOptions{Cache: c, Catalog: f.opts.Catalog})
		if err != nil {
			b.Fatal(err)
		}
		f.opts.Lock, f.opts.LockPath, f.opts.Locked = res.Lock, filepath.Join(f.work, "site.lock"), true
		writeOverlayFile(b, overlay, fmt.Sprintf("round %d, after\n", i))
		f.registry.ResetRequests()
		f.charts.ResetRequests()
		t, warmReport := timedBuild(b, f, "out", "warm locked")
		warm, warmFormats = warm+t.total, warmFormats+t.formats
		if n := f.registry.Requests() + f.charts.Requests(); n != 0 {
			b.Fatalf("warm locked rebuild made %d requests", n)
		}
		if i == 0 {
			logArtifacts(b, warmReport)
		}
		// The reports have the sha256s to compare: free the disk first,
		// keeping the cluster identity, an input of the build.
		compare := compare && i == 0
		removeAll(b, f.opts.CacheDir)
		if compare {
			keepSecrets(b, filepath.Join(f.work, "out"), filepath.Join(f.work, "reference"))
		}
		removeAll(b, filepath.Join(f.work, "out"))
		if compare {
			assertSameArtifactsAsCold(b, f, warmReport)
		}
	}
	n := float64(b.N)
	b.ReportMetric(cold.Seconds()/n, "cold-s")
	b.ReportMetric(warm.Seconds()/n, "warm-locked-s")
	b.ReportMetric(warm.Seconds()/cold.Seconds(), "warm/cold")
	b.ReportMetric(coldFormats.Seconds()/n, "cold-formats-s")
	b.ReportMetric(warmFormats.Seconds()/n, "warm-formats-s")
	b.ReportMetric(0, "ns/op")
}

// assertSameArtifactsAsCold builds f's current inputs cold (empty cache, no
// lock) into the directory "reference" and fails unless it makes the
// artifacts of want, sha256 for sha256. It removes what it built.
func assertSameArtifactsAsCold(b *testing.B, f *platformFixture, want *report.Report) {
	b.Helper()
	opts := f.opts
	defer func() { f.opts = opts }()
	f.opts.CacheDir = filepath.Join(f.work, "cache-reference")
	f.opts.Lock, f.opts.LockPath, f.opts.Locked = nil, "", false
	_, got := timedBuild(b, f, "reference", "cold reference (untimed)")
	if g, w := artifactSums(got), artifactSums(want); g != w {
		b.Fatalf("the warm rebuild's artifacts differ from a cold build's of the same inputs:\nwarm:\n%s\ncold:\n%s", w, g)
	}
	b.Logf("the warm rebuild's artifacts are a cold build's, sha256 for sha256:\n%s", artifactSums(got))
	removeAll(b, f.opts.CacheDir)
	removeAll(b, filepath.Join(f.work, "reference"))
}

// keepSecrets copies the cluster identity a build kept in out
// (secrets/<site>) to the same place in dir, modes and all.
func keepSecrets(b testing.TB, out, dir string) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if msg, err := exec.Command("cp", "-a", filepath.Join(out, "secrets"), dir).CombinedOutput(); err != nil {
		b.Fatalf("keep the cluster identity: %v: %s", err, msg)
	}
}

// buildTimes are a build's wall time and the part of it spent in the
// output formats.
type buildTimes struct{ total, formats time.Duration }

// timedBuild builds f into out, logs the build's timeline and returns its
// times and report.
func timedBuild(b *testing.B, f *platformFixture, out, what string) (buildTimes, *report.Report) {
	b.Helper()
	timeline := &timelineHandler{start: time.Now()}
	f.opts.Logger = slog.New(timeline)
	defer func() { f.opts.Logger = nil }()
	rep, err := f.build(b, out)
	t := buildTimes{total: time.Since(timeline.start)}
	if err != nil {
		b.Fatalf("%s build: %v", what, err)
	}
	if at, ok := timeline.first("writing output"); ok {
		t.formats = t.total - at
	}
	b.Logf("%s build: %.1f s, %.1f s of it in the output formats\n%s", what, t.total.Seconds(), t.formats.Seconds(), timeline)
	return t, rep
}

func artifactSums(r *report.Report) string {
	var lines []string
	for _, a := range r.Artifacts {
		lines = append(lines, fmt.Sprintf("%s %d %s", a.SHA256, a.Size, a.Path))
	}
	return strings.Join(lines, "\n")
}

func logArtifacts(b *testing.B, r *report.Report) {
	var lines []string
	for _, a := range r.Artifacts {
		lines = append(lines, fmt.Sprintf("%-10s %-22s %7.1f MiB", a.Kind, a.Path, float64(a.Size)/(1<<20)))
	}
	b.Logf("artifacts:\n%s", strings.Join(lines, "\n"))
}

func writeOverlayFile(b *testing.B, overlay, content string) {
	b.Helper()
	p := filepath.Join(overlay, "etc", "bench-rebuild")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

func removeAll(b *testing.B, dir string) {
	b.Helper()
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
}

// timelineHandler is a slog handler for tests and benchmarks that keeps
// each record's message and attributes with the seconds since start: what
// a build did, and where it spent its time.
type timelineHandler struct {
	start time.Time
	mu    sync.Mutex
	lines []string
	// at is when each message was first logged, since start.
	at map[string]time.Duration
}

// first is when msg was first logged, since start.
func (h *timelineHandler) first(msg string) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.at[msg]
	return d, ok
}

func (h *timelineHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *timelineHandler) Handle(_ context.Context, r slog.Record) error {
	var attrs []string
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a.String())
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	at := r.Time.Sub(h.start)
	if h.at == nil {
		h.at = map[string]time.Duration{}
	}
	if _, ok := h.at[r.Message]; !ok {
		h.at[r.Message] = at
	}
	h.lines = append(h.lines, fmt.Sprintf("%7.2fs %s %s", at.Seconds(), r.Message, strings.Join(attrs, " ")))
	return nil
}

func (h *timelineHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *timelineHandler) WithGroup(string) slog.Handler      { return h }

func (h *timelineHandler) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}
