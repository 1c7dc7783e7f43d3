package fuzzcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recordingTB is a testing.TB double that records Errorf instead of
// failing, so a test can check what Corpus and Bounded report.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestFile(t *testing.T) {
	got := string(File([]byte("a\x00\"\n")))
	if want := "go test fuzz v1\n[]byte(\"a\\x00\\\"\\n\")\n"; got != want {
		t.Errorf("File = %q, want %q", got, want)
	}
}

func TestCorpus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "FuzzX")
	seeds := map[string][]byte{"a": []byte("one"), "b": []byte("two")}
	Corpus(t, dir, seeds, true)
	rec := &recordingTB{TB: t}
	Corpus(rec, dir, seeds, false)
	if len(rec.errs) != 0 {
		t.Fatalf("after an update: %q", rec.errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "a"), File([]byte("old")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	Corpus(rec, dir, seeds, false)
	if len(rec.errs) != 2 || !strings.Contains(rec.errs[0], "seed a: ") || !strings.Contains(rec.errs[0], "out of date") || !strings.Contains(rec.errs[1], "seed b: ") {
		t.Errorf("errors = %q, want a out of date and b missing", rec.errs)
	}
}

func TestBounded(t *testing.T) {
	var sink []byte
	rec := &recordingTB{TB: t}
	Bounded(rec, 1<<20, time.Minute, func() { sink = make([]byte, 8<<20) })
	Bounded(rec, 64<<20, time.Millisecond, func() { time.Sleep(20 * time.Millisecond) })
	Bounded(rec, 64<<20, time.Minute, func() { sink = make([]byte, 1<<10) })
	_ = sink
	if len(rec.errs) != 2 || !strings.HasPrefix(rec.errs[0], "allocated 8.0 MiB, want at most 1.0 MiB") || !strings.HasPrefix(rec.errs[1], "took ") {
		t.Errorf("errors = %q, want the allocation and the time reported once each", rec.errs)
	}
}

func TestLaughs(t *testing.T) {
	want := "l0: &l0 x\nl1: &l1 [*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0]\nl2: &l2 [*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1]\n"
	if got := Laughs(2, "x"); got != want {
		t.Errorf("Laughs(2, x) =\n%s\nwant\n%s", got, want)
	}
}
