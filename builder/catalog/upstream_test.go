package catalog

import (
	"testing"

	"github.com/ml-appliance/appliance/builder/charts"
)

// targetKubeVersion is the Kubernetes version the API server of the K3s
// release the appliance runs reports, and Helm on the node gives charts
// (platform.KubeVersion; TestPinsAgree in pin_test.go checks it against
// configs/ and firstboot/kubetools).
const targetKubeVersion = "v1.36.2+k3s1"

// TestCatalogAgainstUpstreamCharts renders every catalog component whose
// real chart this machine can download (upstreamRepos) with the catalog's
// values, as K3s's helm-controller would install it, and checks the
// render: pinned chart version, pinned images, no pull policy Always, no
// LoadBalancer, the readiness workloads and endpoint Services present,
// single replicas. That every run-time image is rendered or derived is
// TestRuntimeImagesAgainstUpstreamCharts's (runtimeimages_test.go).
//
// Components whose chart repository has no snapshot here are reported as
// skipped subtests chart-not-available-here/<component>; nothing about
// them is checked.
func TestCatalogAgainstUpstreamCharts(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	src := downloadUpstreamModules(t)
	var unavailable []*Component
	for _, c := range cat.Components() {
		if _, ok := src.repo(c.Chart.Repo); !ok {
			unavailable = append(unavailable, c)
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			checkUpstream(t, c, src)
		})
	}
	t.Run("chart-not-available-here", func(t *testing.T) {
		for _, c := range unavailable {
			t.Run(c.Name, func(t *testing.T) {
				t.Skipf("chart %s: no Go module snapshot of its repository in upstreamRepos; its values, workloads and endpoints are NOT checked", c.Chart)
			})
		}
	})
}

func checkUpstream(t *testing.T, c *Component, src upstreamCharts) {
	src.standIns = func(line string) { t.Log(line) }
	ch, err := src.load(c.Chart.Repo, c.Chart.Name, c.Chart.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.addSubcharts(ch, c.Values); err != nil {
		t.Fatalf("%s: %v", c.File, err)
	}
	r, err := charts.Render(ch, charts.RenderOptions{
		ReleaseName: c.ReleaseName(), Namespace: c.Namespace,
		Values: c.Values, KubeVersion: targetKubeVersion,
	})
	if err != nil {
		t.Fatalf("%s: %v", c.File, err)
	}
	for _, p := range checkRender(c, ch, r) {
		t.Errorf("%s: %s", c.File, p)
	}
	if testing.Verbose() {
		uses, err := charts.Images(ch, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range uses {
			t.Logf("image %s", u.Image)
		}
		for _, img := range c.Images {
			if img.From != nil {
				t.Logf("run-time image from %s (%s)", img.From, img.Why)
			} else {
				t.Logf("run-time image %s (%s)", img.Ref, img.Why)
			}
		}
	}
}
