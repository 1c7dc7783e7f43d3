// Package fuzzcheck helps Go fuzz tests of parsers that take hostile
// input: it keeps a test's hostile seeds committed as its seed corpus,
// checks that one call stays within a memory and a time bound, and makes
// the classic YAML alias bomb (Laughs).
//
// A fuzz test adds its seeds with f.Add and also calls Corpus from a plain
// test, so that `go test` fails when testdata/fuzz/FuzzXxx lacks a seed or
// holds an old copy of one; `go test -run TestXxx -args -update-corpus`
// (the test's own flag) rewrites them:
//
//	func TestFuzzParseCorpus(t *testing.T) {
//		fuzzcheck.Corpus(t, "testdata/fuzz/FuzzParse", hostileSeeds(t), *updateCorpus)
//	}
//
// and inside the fuzz function:
//
//	fuzzcheck.Bounded(t, 512<<20, 10*time.Second, func() { Parse("fuzz", data) })
package fuzzcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// File is the content of a seed corpus file holding the single []byte
// input data, in the format `go test` reads from testdata/fuzz/FuzzXxx
// (Go's internal/fuzz encoding: a version line, then one Go literal per
// argument).
func File(data []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n")
}

// Corpus checks that dir holds each seed as the corpus file named by its
// key, with the content File gives; with update it writes them instead.
// Files in dir that are not seeds (ones the fuzzer found and someone
// committed) are left alone.
func Corpus(t testing.TB, dir string, seeds map[string][]byte, update bool) {
	t.Helper()
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		want := File(seeds[name])
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		switch {
		case err != nil:
			t.Errorf("seed %s: %v (rewrite the corpus with -update-corpus)", name, err)
		case !bytes.Equal(got, want):
			t.Errorf("seed %s: %s is out of date (rewrite the corpus with -update-corpus)", name, path)
		}
	}
}

// Bounded runs fn and fails t when it allocates more than maxBytes in all
// (a bound on its peak memory too) or runs longer than maxTime. The bounds
// are meant to be far above what a well-behaved parse of the input needs
// and far below what an unbounded expansion takes: they catch a blow-up,
// not a slowdown.
func Bounded(t testing.TB, maxBytes uint64, maxTime time.Duration, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > maxBytes {
		t.Errorf("allocated %s, want at most %s", mib(got), mib(maxBytes))
	}
	if elapsed > maxTime {
		t.Errorf("took %v, want at most %v", elapsed, maxTime)
	}
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Laughs is YAML's "billion laughs": top-level keys l0 (anchored, value
// leaf) to l<depth>, each an anchored flow list of ten aliases of the one
// before, so that *l<depth> is 10^depth leaves once the aliases are
// followed. Line N+1 holds lN. The caller adds the key that uses it, such
// as "runcmd: *l9\n".
func Laughs(depth int, leaf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "l0: &l0 %s\n", leaf)
	for i := 1; i <= depth; i++ {
		alias := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.Repeat(alias+",", 9)+alias)
	}
	return b.String()
}
