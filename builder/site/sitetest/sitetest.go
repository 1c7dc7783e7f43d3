// Package sitetest sets up the hostile site configs of
// builder/site/testdata/hostile for a test: their text, and a directory
// holding them with the fixtures they name, so that `builder validate`
// tests (builder/cli) and the site decoder's fuzz test (builder/site) run
// the same corpus.
package sitetest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Configs returns the text of each *.yaml in the corpus directory dir, by
// file name.
func Configs(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("hostile configs in %s: %v (none found)", dir, err)
	}
	configs := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		configs[filepath.Base(p)] = data
	}
	return configs
}

// Fixtures makes a fresh directory holding the configs and the files they
// name: base.tar (empty), zero (a link to /dev/zero), fifo (a named pipe
// nobody writes), dir/, big (64 KiB and one byte, more than any secret
// file may hold) and passwd (a line like /etc/shadow's, whose secret
// s3cr3t no message may quote). It returns the directory.
func Fixtures(t testing.TB, configs map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"base.tar": "",
		"big":      strings.Repeat("a", 64<<10+1),
		"passwd":   "root:$6$s3cr3t-hash:19000:0:99999:7:::\n",
	}
	for name, data := range configs {
		files[name] = string(data)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Secret is the text in passwd that no message may quote.
const Secret = "s3cr3t"
