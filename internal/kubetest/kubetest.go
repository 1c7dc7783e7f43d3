// Package kubetest runs a real kube-apiserver and etcd on 127.0.0.1 for
// tests of client-go code, with controller-runtime's envtest. Nothing runs
// pods or controllers: tests play their part by writing objects and status.
//
// The binaries come from `make testassets` (firstboot/kubetools/build.sh
// builds them into out/testassets/kube), or from $KUBEBUILDER_ASSETS. Like
// package testassets, a test fails when they are missing rather than
// skipping (but in -short mode, see testassets.Missing).
//
// One server per test:
//
//	cfg := kubetest.Start(t, "testdata/crds")
//
// One server per test binary, started by the first test that needs it:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m, "testdata/crds")) }
//	func TestX(t *testing.T) { cfg := kubetest.Shared(t) ... }
package kubetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ml-appliance/appliance/internal/testassets"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// AssetsSubdir is the directory of testassets.Dir() holding the binaries.
const AssetsSubdir = "kube"

// Binaries envtest runs.
var Binaries = []string{"kube-apiserver", "etcd"}

// AssetsDir is $KUBEBUILDER_ASSETS, or out/testassets/kube.
func AssetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(testassets.Dir(), AssetsSubdir)
}

// Start starts an API server with the CRDs of crdDirs installed, and stops
// it when t's test ends. It fails t if the server cannot start.
func Start(t testing.TB, crdDirs ...string) *rest.Config {
	t.Helper()
	s, err := start(crdDirs)
	if errors.Is(err, errMissing) {
		testassets.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver on %s up in %s", s.config.Host, s.took.Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver: %v", err)
		}
	})
	return rest.CopyConfig(s.config)
}

// errMissing is start's error when the binaries are not there.
var errMissing = errors.New("missing")

// server is a running envtest control plane.
type server struct {
	env    *envtest.Environment
	config *rest.Config
	took   time.Duration
}

func start(crdDirs []string) (*server, error) {
	dir := AssetsDir()
	var missing []string
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s %w in %s: run `make testassets` first", strings.Join(missing, " and "), errMissing, dir)
	}
	// envtest logs through controller-runtime's logger, which complains
	// when never set.
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
	}
	began := time.Now()
	cfg, err := env.Start()
	if err != nil {
		env.Stop() // removes what a partial start left
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", dir, err)
	}
	return &server{env: env, config: cfg, took: time.Since(began)}, nil
}

// shared is the server of Main and Shared.
var shared struct {
	main    bool // Main runs the tests
	crdDirs []string
	once    sync.Once
	server  *server
	err     error
}

// Main runs the tests of m (call it from TestMain) and then stops the
// server Shared started, if any. It returns m.Run's exit code, or 1 if the
// server did not stop cleanly.
func Main(m *testing.M, crdDirs ...string) int {
	shared.main, shared.crdDirs = true, crdDirs
	code := m.Run()
	if shared.server != nil {
		if err := shared.server.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop kube-apiserver: %v\n", err)
			return max(code, 1)
		}
	}
	return code
}

// Shared returns the config of the test binary's API server, starting it
// (with Main's CRDs) on first use. Without Main it fails t: the server
// would outlive the tests.
func Shared(t testing.TB) *rest.Config {
	t.Helper()
	if !shared.main {
		t.Fatal("kubetest.Shared needs TestMain to call kubetest.Main")
	}
	shared.once.Do(func() {
		shared.server, shared.err = start(shared.crdDirs)
		if shared.err == nil {
			t.Logf("kube-apiserver on %s up in %s (shared by this test binary)", shared.server.config.Host, shared.server.took.Round(time.Millisecond))
		}
	})
	if errors.Is(shared.err, errMissing) {
		testassets.Missing(t, "%v", shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return rest.CopyConfig(shared.server.config)
}
