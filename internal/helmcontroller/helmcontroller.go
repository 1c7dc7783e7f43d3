// Package helmcontroller runs the real k3s-io/helm-controller against a
// test API server (internal/kubetest), embedded as the pinned K3s release
// embeds it, so tests can check what it makes of the HelmChart manifests
// the builder writes.
//
// The controller is a separate program, built from the nested module
// internal/helmcontroller/tools (its go.mod pins the helm-controller
// version; `make testassets` runs tools/build.sh into
// out/testassets/helm-controller). It is a separate module and process
// because K3s compiles helm-controller against the Kubernetes 1.36 client
// libraries, not the ones this module uses.
//
//	cfg := kubetest.Start(t)
//	helmcontroller.Start(t, cfg)
//
// Like package testassets, Start fails the test when the binary is missing
// (skips it in -short mode).
package helmcontroller

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/ml-appliance/appliance/internal/kubetest"
	"github.com/ml-appliance/appliance/internal/testassets"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

// The pinned K3s release's helm-controller (K3s v1.36.2+k3s1, the release
// configs/three-servers.yaml names).
const (
	// Version is the github.com/k3s-io/helm-controller module version K3s
	// bundles (release notes v1.36.2+k3s1, "Embedded Component Versions":
	// Helm-controller v0.17.1). tools/go.mod pins it; a test checks they
	// agree.
	Version = "v0.17.1"
	// JobImage is the image of the helm-install Jobs: K3s links it into
	// helm-controller's chart.DefaultJobImage (scripts/build:
	// -X .../pkg/controllers/chart.DefaultJobImage=rancher/klipper-helm:${VERSION_HELM_JOB},
	// scripts/version.sh VERSION_HELM_JOB=v0.11.1-build20260615), and its
	// airgap image archive carries it as
	// docker.io/rancher/klipper-helm:v0.11.1-build20260615.
	JobImage = "rancher/klipper-helm:v0.11.1-build20260615"
)

// AssetsSubdir is the directory of testassets.Dir() holding the binary.
const AssetsSubdir = "helm-controller"

// Binary is the path of the built controller.
func Binary() string {
	return filepath.Join(testassets.Dir(), AssetsSubdir, "helm-controller")
}

// Start runs the controller against the API server of cfg, with JobImage
// as K3s's --helm-job-image, until t's test ends. It returns once the API
// server serves the HelmChart CRD the controller installed, as K3s
// installs it before it applies any manifest (the controller's informers
// list what was created before they started). When t fails, the
// controller's output is logged.
func Start(t testing.TB, cfg *rest.Config) {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		testassets.Missing(t, "helm-controller missing (%v): run `make testassets` first", err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubetest.WriteKubeconfig(kubeconfig, cfg); err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := testfixture.StartProcess(t, bin, "--kubeconfig", kubeconfig, "--helm-job-image", JobImage)
	p.WaitReady(t, "helm-controller's HelmChart CRD", time.Minute, func() error {
		list, err := disc.ServerResourcesForGroupVersion("helm.cattle.io/v1")
		if err != nil {
			return err
		}
		for _, r := range list.APIResources {
			if r.Name == "helmcharts" {
				return nil
			}
		}
		return errors.New("helm.cattle.io/v1 serves no helmcharts")
	})
}
