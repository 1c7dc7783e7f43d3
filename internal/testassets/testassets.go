// Package testassets finds the large, real inputs that tests boot or unpack:
// a Debian kernel package and the default base OS tarball. `make testassets`
// puts them in out/testassets (CI does it in .ci/run); APPLIANCE_TEST_ASSETS
// points elsewhere.
//
// A test that needs an asset fails when it is missing rather than skipping:
// a skipped boot test reported as passing would hide a broken appliance.
// Only `go test -short` (`make test-short`, unit tests on a fresh checkout)
// skips such a test, saying which asset it lacks.
package testassets

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Names of the assets.
const (
	// CloudKernelDeb is Debian's linux-image-*-cloud-amd64 package: a small
	// kernel with virtio drivers that boots fast under QEMU TCG.
	CloudKernelDeb = "linux-image-cloud-amd64.deb"
	// BaseTar is the default base OS made by images/base/build.sh.
	BaseTar = "base-debian-bookworm.tar"
)

// Dir is the assets directory: $APPLIANCE_TEST_ASSETS or out/testassets at
// the repository root.
func Dir() string {
	if d := os.Getenv("APPLIANCE_TEST_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "out", "testassets")
}

// Path returns the path of the named asset, failing t when it is missing
// (skipping it in -short mode).
func Path(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir(), name)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "test asset %s missing (%v): run `make testassets` first", name, err)
	}
	return p
}

// Missing stops t for a missing asset: it fails t, or skips it in -short
// mode, where the assets are not expected to be there.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: "+format, args...)
	}
	t.Fatalf(format, args...)
}

// RepoRoot is the module root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
