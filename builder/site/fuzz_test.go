package site

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/site/sitetest"
	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzLoad from fuzzSeeds")

// fuzzSeeds are FuzzLoad's seeds, committed as its corpus: the configs of
// testdata/hostile, a valid config, and hostile input made here. They stay
// small: the fuzzer minimizes every new input it derives from a seed byte
// by byte.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{
		"valid":       []byte(valid),
		"valid-full":  []byte(valid + "seed: s\nk3s: {version: v1.33.5+k3s1}\noutputs: {raw: {size: 8GiB}, iso: {install: {device: auto}}, pxe: {userData: {agent: passwd}}}\nplatform: {minio: {values: {a: [1, {b: c}]}}}\nmirrors: {registries: {docker.io: reg.lab}}\n"),
		"deep-flow":   []byte("os:\n  cmdline: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n"),
		"many-errors": []byte(strings.Repeat("unknown: 1\n", 60)),
		"anchors":     []byte(strings.Replace(valid, "init: true}", "init: true, labels: &l [a=b]}\n    - {hostname: b, labels: *l}", 1)),
	}
	for name, data := range sitetest.Configs(t, "testdata/hostile") {
		seeds["hostile-"+strings.TrimSuffix(name, ".yaml")] = data
	}
	return seeds
}

func TestFuzzLoadCorpus(t *testing.T) {
	fuzzcheck.Corpus(t, "testdata/fuzz/FuzzLoad", fuzzSeeds(t), *updateCorpus)
}

// FuzzLoad feeds the site decoder and validation (load: what Load does
// once the file is read) arbitrary configs, in a directory holding the
// files the hostile configs name. It must not panic, must stay within
// bounded memory and time whatever the aliases, and must keep Load's
// promises: a Site or an error, never both; every error a config error
// at a line of the file; at most MaxErrors errors and warnings listed.
func FuzzLoad(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	file := filepath.Join(sitetest.Fixtures(f, nil), "site.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxConfigBytes {
			return // Load refuses it unread
		}
		var (
			s        *Site
			warnings []string
			err      error
		)
		fuzzcheck.Bounded(t, 512<<20, 10*time.Second, func() { s, warnings, err = load(file, data) })
		if (s == nil) == (err == nil) {
			t.Fatalf("load returned site %v and error %v", s != nil, err)
		}
		if len(warnings) > MaxErrors+1 {
			t.Errorf("%d warnings listed, want at most %d", len(warnings), MaxErrors+1)
		}
		if err == nil {
			return
		}
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		if len(errs) > MaxErrors+1 {
			t.Errorf("%d errors listed, want at most %d", len(errs), MaxErrors+1)
		}
		lines := 1 // at most: every YAML line break counted alone
		for _, b := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += strings.Count(string(data), b)
		}
		for _, e := range errs {
			var cerr *Error
			if !errors.As(e, &cerr) {
				t.Fatalf("not a config error: %v", e)
			}
			if cerr.File != file || cerr.Line < 0 || cerr.Line > lines {
				t.Errorf("error at %s:%d, but the file is %s of %d lines: %v", cerr.File, cerr.Line, file, lines, e)
			}
			if strings.Contains(cerr.Msg, sitetest.Secret) {
				t.Errorf("error quotes passwd: %v", e)
			}
		}
	})
}
