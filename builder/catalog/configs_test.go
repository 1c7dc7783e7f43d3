package catalog_test

import (
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/site"
)

// TestExampleConfigsRenderAgainstUpstreamCharts renders every component an
// example config in configs/ enables, with the config's values merged over
// the catalog's as a build merges them, against the real upstream chart
// where one can be had here, and runs the catalog's render checks and its
// run-time image checks (runtimeImageProblems). The others are reported as
// skipped subtests, not as checked.
func TestExampleConfigsRenderAgainstUpstreamCharts(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs (%v)", err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	var upstream *catalog.UpstreamChecker
	for _, f := range files {
		s, _, err := site.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range s.Platform.Enabled() {
			c, _ := cat.Component(name)
			t.Run(filepath.Base(f)+"/"+name, func(t *testing.T) {
				if upstream == nil {
					upstream = catalog.NewUpstreamChecker(t)
				}
				if !upstream.Available(c) {
					t.Skipf("chart %s: no Go module snapshot of its repository here; NOT checked", c.Chart)
				}
				values := platform.MergeValues(c.Values, s.Platform[name].Values)
				upstream.Check(t, c, values)
				for _, p := range runtimeImageProblems(t, upstream, c, values) {
					t.Errorf("%s: %s", c.File, p)
				}
			})
		}
	}
}
