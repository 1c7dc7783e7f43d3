package catalog_test

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/charts"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/images"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// TestRuntimeImagesAgainstUpstreamCharts renders every catalog component
// whose real chart can be had here with the catalog's values and derives
// its run-time images as a build does (platform.RenderValues,
// platform.RuntimeImages): every images rule finds a pinned image, no rule
// derives an image the chart renders already, and every image the
// manifests name inside strings (arguments, environment, configuration;
// catalog.TextImages) is baked: rendered, or derived.
func TestRuntimeImagesAgainstUpstreamCharts(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	upstream := catalog.NewUpstreamChecker(t)
	for _, c := range cat.Components() {
		if !upstream.Available(c) {
			continue // reported by TestCatalogAgainstUpstreamCharts
		}
		t.Run(c.Name, func(t *testing.T) {
			for _, p := range runtimeImageProblems(t, upstream, c, c.Values) {
				t.Errorf("%s: %s", c.File, p)
			}
		})
	}
}

// runtimeImageProblems renders c's chart with values and lists what is
// wrong with its run-time images.
func runtimeImageProblems(t *testing.T, upstream *catalog.UpstreamChecker, c *catalog.Component, values map[string]any) []string {
	t.Helper()
	ch := upstream.Chart(t, c, values)
	r, err := charts.Render(ch, charts.RenderOptions{ReleaseName: c.ReleaseName(), Namespace: c.Namespace, Values: values, KubeVersion: catalog.TargetKubeVersion})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := platform.RenderValues(ch, values)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := platform.RuntimeImages(c, vals, r)
	if err != nil {
		return []string{err.Error()}
	}
	uses, err := charts.Images(ch, r)
	if err != nil {
		t.Fatal(err)
	}
	baked := map[string]bool{}
	for _, u := range uses {
		baked[catalog.CanonicalImage(u.Image)] = true
	}
	var problems []string
	for _, d := range derived {
		t.Logf("run-time image %s (%s)", d.Ref, d.From)
		if baked[catalog.CanonicalImage(d.Ref)] {
			problems = append(problems, d.From+" derives "+d.Ref+", which the chart renders as a container image already: drop the rule")
		}
	}
	for _, d := range derived {
		baked[catalog.CanonicalImage(d.Ref)] = true
	}
	text, err := catalog.TextImages(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range text {
		if !baked[catalog.CanonicalImage(img.Ref)] {
			problems = append(problems, img.Where+" names image "+img.Ref+", which the chart does not render and no images rule derives: it would be pulled at run time")
		}
	}
	return problems
}

// TestRuntimeImagesFollowOverrides resolves argo-workflows and monitoring
// from their real charts (served from a chart repository on 127.0.0.1) as
// a build does, with the catalog's values and then with a site overriding
// each run-time image: the baked set follows the override and no longer
// holds the default.
func TestRuntimeImagesFollowOverrides(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	upstream := catalog.NewUpstreamChecker(t)
	override := site.Platform{
		"argo-workflows": {Values: site.Values{"executor": map[string]any{"image": map[string]any{"registry": "registry.example", "tag": "v4.1.3"}}}},
		"monitoring": {Values: site.Values{"prometheusOperator": map[string]any{
			"prometheusConfigReloader": map[string]any{"image": map[string]any{"registry": "registry.example", "tag": "v0.93.2"}},
			"thanosImage":              map[string]any{"tag": "v0.43.0"},
		}}},
	}
	// The defaults are the images the catalog listed as constants before
	// it derived them (argo-workflows 2.0.4's appVersion, kube-prometheus-
	// stack 88.6.1's appVersion and thanosImage.tag).
	tests := []struct{ component, dflt, overridden, from string }{
		{"argo-workflows", "quay.io/argoproj/argoexec:v4.1.2", "registry.example/argoproj/argoexec:v4.1.3",
			"catalog argo-workflows: Deployment argo/argo-workflows-workflow-controller container controller arg --executor-image"},
		{"monitoring", "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1", "registry.example/prometheus-operator/prometheus-config-reloader:v0.93.2",
			"catalog monitoring: Deployment monitoring/monitoring-operator container kube-prometheus-stack arg --prometheus-config-reloader"},
		{"monitoring", "quay.io/thanos/thanos:v0.42.4", "quay.io/thanos/thanos:v0.43.0",
			"catalog monitoring: Deployment monitoring/monitoring-operator container kube-prometheus-stack arg --thanos-default-base-image"},
	}
	catalogPlan := resolveUpstream(t, cat, upstream, site.Platform{"argo-workflows": {}, "monitoring": {}})
	overridePlan := resolveUpstream(t, cat, upstream, override)
	for _, tt := range tests {
		if froms, ok := catalogPlan[tt.dflt]; !ok || !slices.ContainsFunc(froms, func(f string) bool { return strings.HasPrefix(f, tt.from+": ") }) {
			t.Errorf("catalog values: %s baked from %q, want it from %s", tt.dflt, froms, tt.from)
		}
		if froms, ok := overridePlan[tt.overridden]; !ok || !slices.ContainsFunc(froms, func(f string) bool { return strings.HasPrefix(f, tt.from+": ") }) {
			t.Errorf("override: %s baked from %q, want it from %s", tt.overridden, froms, tt.from)
		}
		if froms, ok := overridePlan[tt.dflt]; ok {
			t.Errorf("override: the catalog's default %s is still baked (from %q)", tt.dflt, froms)
		}
	}
}

// TestUpstreamPassedImageWithoutRuleFails: with its images rule taken out
// of the catalog entry, argo-workflows' real chart still passes the
// executor image to the controller, and the build fails naming it.
func TestUpstreamPassedImageWithoutRuleFails(t *testing.T) {
	data, err := fs.ReadFile(images.Catalog, "catalog/argo-workflows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	noRules := regexp.MustCompile(`(?ms)^images:\n.*?^readiness:`).ReplaceAllString(string(data), "readiness:")
	if noRules == string(data) {
		t.Fatal("catalog/argo-workflows.yaml has no images section to take out")
	}
	cat, err := catalog.Load(fstest.MapFS{"catalog/argo-workflows.yaml": {Data: []byte(noRules)}}, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	_, err = resolveUpstreamErr(t, cat, catalog.NewUpstreamChecker(t), site.Platform{"argo-workflows": {}})
	want := "platform argo-workflows: Deployment argo/argo-workflows-workflow-controller container controller arg --executor-image passes image quay.io/argoproj/argoexec:v4.1.2 " +
		"to what it starts at run time, and the build does not bake it: add an images entry with from: {workload: Deployment/argo-workflows-workflow-controller, " +
		"container: controller, arg: --executor-image} to catalog/argo-workflows.yaml, or list it in the site's platform.argo-workflows.images"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

// resolveUpstream resolves p's components from their upstream charts and
// returns every baked image with what needs it.
func resolveUpstream(t *testing.T, cat *catalog.Catalog, upstream *catalog.UpstreamChecker, p site.Platform) map[string][]string {
	t.Helper()
	baked, err := resolveUpstreamErr(t, cat, upstream, p)
	if err != nil {
		t.Fatal(err)
	}
	return baked
}

func resolveUpstreamErr(t *testing.T, cat *catalog.Catalog, upstream *catalog.UpstreamChecker, p site.Platform) (map[string][]string, error) {
	t.Helper()
	repo := testrepo.ChartRepo(t)
	s := &site.Site{K3s: site.K3s{Version: catalog.TargetKubeVersion}, Platform: p, Mirrors: site.Mirrors{Charts: map[string]string{}}}
	for name, pc := range p {
		c, ok := cat.Component(name)
		if !ok {
			t.Fatalf("platform %s: not in the catalog", name)
		}
		repo.AddChart(t, upstream.Chart(t, c, platform.MergeValues(c.Values, pc.Values)))
		s.Mirrors.Charts[name] = repo.URL
	}
	plan, err := resolvePlan(t, cat, s)
	if err != nil {
		return nil, err
	}
	baked := map[string][]string{}
	for _, n := range plan.Images {
		baked[n.Ref] = n.From
	}
	return baked, nil
}

// resolvePlan resolves s's platform as a build does, with a fresh cache.
func resolvePlan(t *testing.T, cat *catalog.Catalog, s *site.Site) (*platform.Plan, error) {
	t.Helper()
	store, err := cache.New(cache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return platform.Resolve(context.Background(), s, platform.Options{Catalog: cat, Charts: store})
}
