package catalog

import "testing"

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
