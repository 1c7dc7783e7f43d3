package charts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/internal/modsnapshot"
)

// Upstream sources of the CRDs K3s serves: the HelmChart controller K3s
// embeds (v0.17.1 in the pinned K3s v1.36.2+k3s1, internal/helmcontroller), and the Traefik chart whose crds/ directory K3s's traefik-crd
// chart packages. The Traefik snapshot is the one the module proxy here
// serves (a newer chart than K3s bundles); its traefik.io CRDs have been
// the same ten since Traefik v3.0.
const (
	helmControllerModule = "github.com/k3s-io/helm-controller@v0.17.1"
	traefikChartModule   = "github.com/traefik/traefik-helm-chart@v41.6.0+incompatible"
)

// TestK3sAPIVersionsMatchUpstreamCRDs checks the helm.cattle.io and
// traefik.io entries of K3sAPIVersions against the CRDs those projects
// ship: every served version and kind listed, nothing listed they do not
// serve.
func TestK3sAPIVersionsMatchUpstreamCRDs(t *testing.T) {
	dirs := modsnapshot.Download(t, helmControllerModule, traefikChartModule)
	for _, tc := range []struct {
		group string
		glob  string
	}{
		{"helm.cattle.io", filepath.Join(dirs[helmControllerModule], "pkg/crds/yaml/generated/helm.cattle.io_*.yaml")},
		{"traefik.io", filepath.Join(dirs[traefikChartModule], "traefik/crds/traefik.io_*.yaml")},
	} {
		files, err := filepath.Glob(tc.glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no CRD files at %s (%v)", tc.group, tc.glob, err)
		}
		var want []string
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, crdVersions(data)...)
		}
		slices.Sort(want)
		want = slices.Compact(want)
		var got []string
		for _, v := range K3sAPIVersions {
			if strings.HasPrefix(v, tc.group+"/") {
				got = append(got, v)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n K3sAPIVersions has %q\n upstream CRDs serve %q", tc.group, got, want)
		}
	}
	for _, v := range K3sAPIVersions {
		if strings.HasPrefix(v, "traefik.containo.us/") {
			t.Errorf("K3sAPIVersions lists %s, a Traefik v2 group K3s's Traefik v3 does not serve", v)
		}
	}
}
