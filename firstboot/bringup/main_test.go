package bringup

import (
	"os"
	"testing"

	"github.com/ml-appliance/appliance/internal/kubetest"
)

// TestMain runs one API server (with the HelmChart CRD) for every test of
// this package that calls kubetest.Shared; each test works in its own
// namespace and under its own HelmChart names.
func TestMain(m *testing.M) { os.Exit(kubetest.Main(m, "testdata/crds")) }
