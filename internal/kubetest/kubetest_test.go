package kubetest

import (
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/internal/testassets"
	"k8s.io/client-go/kubernetes"
)

// TestStart starts a server with the HelmChart CRD: it reports the version
// the tools module pins (the build's ldflags) and serves the CRD's kind.
func TestStart(t *testing.T) {
	crds := filepath.Join(testassets.RepoRoot(), "firstboot", "bringup", "testdata", "crds")
	cfg := Start(t, crds)
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := core.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != "v1.37.2" || v.Major != "1" || v.Minor != "37" {
		t.Errorf("server version %s (%s.%s), want v1.37.2 as firstboot/kubetools/go.mod pins", v.GitVersion, v.Major, v.Minor)
	}
	res, err := core.Discovery().ServerResourcesForGroupVersion("helm.cattle.io/v1")
	if err != nil {
		t.Fatalf("discovery of helm.cattle.io/v1: %v", err)
	}
	var kinds []string
	for _, r := range res.APIResources {
		kinds = append(kinds, r.Name)
	}
	if len(kinds) != 2 || kinds[0] != "helmcharts" || kinds[1] != "helmcharts/status" {
		t.Errorf("helm.cattle.io/v1 serves %q, want helmcharts with its status subresource", kinds)
	}
}
