package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to dir/rel, making its directories.
func writeFile(t testing.TB, dir, rel, content string) string {
	t.Helper()
	p := parentMade(t, filepath.Join(dir, rel))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// parentMade makes the directory p is in and returns p.
func parentMade(t testing.TB, p string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// errorLines splits a joined error into its messages, dir replaced by DIR.
func errorLines(err error, dir string) []string {
	if err == nil {
		return nil
	}
	return strings.Split(strings.ReplaceAll(err.Error(), dir, "DIR"), "\n")
}
