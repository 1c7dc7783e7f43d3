//go:build linux

package imagestore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// The environment of BenchmarkCollectPeakRSS's child process: the payload
// in bytes, and the directory to keep registry, cache and archive in.
const (
	collectChildPayloadEnv = "IMAGESTORE_BENCH_CHILD_PAYLOAD"
	collectChildDirEnv     = "IMAGESTORE_BENCH_CHILD_DIR"
)

// BenchmarkCollectPeakRSS runs a whole collection (push to a registry on
// 127.0.0.1, pull into an empty cache, write the archive) of a 1 GiB and a
// 5 GiB payload, each in a child process, and reports each child's peak
// RSS in MiB. The payload is the image set of pushBenchImages, so the
// largest blob grows fivefold too.
//
// It fails when the 5 GiB peak exceeds 1.5 × the 1 GiB peak + 50 MiB.
// Holding one whole blob in memory anywhere would add at least the largest
// blob's growth (186 MiB → 931 MiB, so about 745 MiB), far past that
// bound; the slack covers what does not scale with payload but varies
// between runs: the Go heap may grow to twice its live size before a
// collection, and the registry's and HTTP client's buffers and goroutines
// come and go.
func BenchmarkCollectPeakRSS(b *testing.B) {
	var small, big float64
	for b.Loop() {
		small = max(small, runCollectChild(b, 1<<30))
		big = max(big, runCollectChild(b, 5<<30))
		if bound := 1.5*small + 50; big > bound {
			b.Fatalf("peak RSS grows with payload: %.0f MiB for 5 GiB, %.0f MiB for 1 GiB (bound %.0f MiB)", big, small, bound)
		}
	}
	b.ReportMetric(small, "1GiB-peak-RSS-MiB")
	b.ReportMetric(big, "5GiB-peak-RSS-MiB")
}

// runCollectChild runs TestBenchChildCollect in a child process collecting
// payload bytes and returns the child's peak RSS in MiB. It logs the
// child's per-phase report.
func runCollectChild(b *testing.B, payload int64) float64 {
	b.Helper()
	dir, err := os.MkdirTemp("", "imagestore-rss-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestBenchChildCollect$", "-test.v", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", collectChildPayloadEnv, payload), collectChildDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("collection child (%d bytes): %v\n%s", payload, err, out)
	}
	var report []string
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "collect ") {
			report = append(report, strings.TrimSpace(line))
		}
	}
	if !strings.Contains(string(out), "--- PASS: TestBenchChildCollect") || len(report) == 0 {
		b.Fatalf("collection child (%d bytes) did not collect:\n%s", payload, out)
	}
	rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
	b.Logf("payload %d MiB: peak RSS %.0f MiB\n%s", payload>>20, rss, strings.Join(report, "\n"))
	return rss
}

// TestBenchChildCollect is BenchmarkCollectPeakRSS's child process; it
// skips unless that benchmark started it. It prints one "collect" line per
// phase with the phase's time and the process's peak RSS so far (VmHWM),
// which shows the phase a peak came from.
func TestBenchChildCollect(t *testing.T) {
	env := os.Getenv(collectChildPayloadEnv)
	if env == "" {
		t.Skip("runs only as BenchmarkCollectPeakRSS's child process")
	}
	payload, err := strconv.ParseInt(env, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", collectChildPayloadEnv, env, err)
	}
	dir := os.Getenv(collectChildDirEnv)
	if dir == "" {
		t.Fatalf("%s is not set", collectChildDirEnv)
	}
	phase := func(name string, start time.Time, bytes int64) {
		d := time.Since(start)
		fmt.Printf("collect %-7s %6.1fs %6.0f MB/s  peak RSS so far %4d MiB\n",
			name, d.Seconds(), float64(bytes)/1e6/d.Seconds(), peakRSSSoFar(t)>>10)
	}

	start := time.Now()
	host := testfixture.DiskRegistry(t, filepath.Join(dir, "registry"))
	refs, distinct := pushBenchImages(t, host, payload/11)
	phase("push", start, distinct)

	start = time.Now()
	imgs := pullInto(t, filepath.Join(dir, "cache"), refs)
	phase("pull", start, distinct)

	start = time.Now()
	out := filepath.Join(dir, "images.tar")
	if err := WriteFile(out, imgs, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	phase("archive", start, fi.Size())
	if fi.Size() < distinct {
		t.Fatalf("archive is %d bytes, less than its %d bytes of layers", fi.Size(), distinct)
	}
}

// peakRSSSoFar is this process's VmHWM in KiB.
func peakRSSSoFar(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
