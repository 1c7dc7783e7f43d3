// Package hostcmd runs the host tools tests validate artifacts with
// (xorriso, sfdisk, fsck.fat, unsquashfs, ...), failing the test with the
// tool's output when one fails, and failing it when a tool is missing: a
// validator silently skipped would pass an unchecked artifact.
package hostcmd

import (
	"os/exec"
	"strings"
	"testing"
)

// Need fails t when the host tool name is missing, naming the Debian
// package that provides it.
func Need(t testing.TB, name, debPackage string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: install the Debian package %s", name, debPackage)
	}
}

// Run runs a host tool and returns its combined output, failing t when it
// exits non-zero.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
