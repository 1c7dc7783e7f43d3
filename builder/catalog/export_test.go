package catalog

import (
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/ml-appliance/appliance/builder/charts"
)

// TargetKubeVersion is the Kubernetes version the upstream render checks
// target, for the pin test in package catalog_test.
const TargetKubeVersion = targetKubeVersion

// UpstreamChecker renders components against their real upstream charts
// (TestCatalogAgainstUpstreamCharts's checks) for tests in package
// catalog_test, which can import builder/site.
type UpstreamChecker struct{ src upstreamCharts }

// NewUpstreamChecker downloads the upstream chart snapshots.
func NewUpstreamChecker(t *testing.T) *UpstreamChecker {
	return &UpstreamChecker{src: downloadUpstreamModules(t)}
}

// Available reports whether c's chart repository has a snapshot here.
func (u *UpstreamChecker) Available(c *Component) bool {
	_, ok := u.src.repo(c.Chart.Repo)
	return ok
}

// Check renders c's chart with values instead of the catalog's and runs
// the catalog's render checks on the result.
func (u *UpstreamChecker) Check(t *testing.T, c *Component, values map[string]any) {
	t.Helper()
	withValues := *c
	withValues.Values = values
	checkUpstream(t, &withValues, u.src)
}

// Chart loads c's upstream chart with every subchart values enable
// vendored, as a packaged chart carries them (stand-in subcharts are logged
// to t). It fails t when the snapshot does not have the pinned version.
func (u *UpstreamChecker) Chart(t *testing.T, c *Component, values map[string]any) *chart.Chart {
	t.Helper()
	src := u.src
	src.standIns = func(line string) { t.Log(line) }
	ch, err := src.load(c.Chart.Repo, c.Chart.Name, c.Chart.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.addSubcharts(ch, values); err != nil {
		t.Fatalf("%s: %v", c.File, err)
	}
	return ch
}

// TextImage is an image named inside a string of a rendered object.
type TextImage = textImage

// TextImages finds the images r's objects name outside image fields
// (textImages).
func TextImages(r *charts.Rendered) ([]TextImage, error) {
	objs, err := parseObjects(r)
	if err != nil {
		return nil, err
	}
	return textImages(objs), nil
}

// CanonicalImage is ref fully qualified (canonicalImage).
func CanonicalImage(ref string) string { return canonicalImage(ref) }
