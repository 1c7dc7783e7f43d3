package kubetest

import (
	"os"
	"path/filepath"
	"strings"
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
	want := kubetoolsVersion(t) // vMAJOR.MINOR.PATCH
	parts := strings.Split(strings.TrimPrefix(want, "v"), ".")
	if v.GitVersion != want || v.Major != parts[0] || v.Minor != parts[1] {
		t.Errorf("server version %s (%s.%s), want %s as firstboot/kubetools/go.mod pins", v.GitVersion, v.Major, v.Minor, want)
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

// kubetoolsVersion is the k8s.io/kubernetes version firstboot/kubetools
// builds kube-apiserver from.
func kubetoolsVersion(t *testing.T) string {
	t.Helper()
	goMod := filepath.Join(testassets.RepoRoot(), "firstboot", "kubetools", "go.mod")
	data, err := os.ReadFile(goMod)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "k8s.io/kubernetes" && strings.Count(f[1], ".") == 2 {
			return f[1]
		}
	}
	t.Fatalf("%s does not require k8s.io/kubernetes", goMod)
	return ""
}
