package platform

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// TestPassedImages finds the images opsChart's controller is given by flag
// and environment, and none of the lookalikes: a pull-policy flag and
// variable, a boolean flag followed by another flag, a variable set from a
// Secret.
func TestPassedImages(t *testing.T) {
	r, _ := renderOps(t, map[string]any{"worker": "busybox:1.36"})
	passed, err := passedImages(r, "ops")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range passed {
		got = append(got, p.Container+" "+p.Place+" = "+p.Ref)
	}
	want := []string{
		"Deployment ops/ctl container controller arg --executor-image = quay.io/example/executor:1.0",
		"Deployment ops/ctl container controller arg --sidecar-image = quay.io/example/sidecar:1.0",
		"Deployment ops/ctl container controller env WORKER_IMAGE = busybox:1.36",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("passed images\n got %q\nwant %q", got, want)
	}
}

func TestCheckPassedImages(t *testing.T) {
	r, _ := renderOps(t, map[string]any{"worker": "busybox:1.36"})
	needs := []Need{
		{Ref: "quay.io/example/executor:1.0", Components: []string{"ops"}},
		// Another component's image does not count for ops.
		{Ref: "quay.io/example/sidecar:1.0", Components: []string{"web"}},
		// Docker Hub spelled out is the same image.
		{Ref: "docker.io/library/busybox:1.36", Components: []string{"ops"}},
	}
	comp := &Component{Catalog: opsEntry(), Origin: OriginCatalog, Rendered: r}
	err := checkPassedImages([]*Component{comp}, needs)
	want := "platform ops: Deployment ops/ctl container controller arg --sidecar-image passes image quay.io/example/sidecar:1.0 to what it starts at run time, " +
		"and the build does not bake it: add an images entry with from: {workload: Deployment/ctl, container: controller, arg: --sidecar-image} to c/ops.yaml, " +
		"or list it in the site's platform.ops.images"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}

	needs[1].Components = append(needs[1].Components, "ops")
	if err := checkPassedImages([]*Component{comp}, needs); err != nil {
		t.Errorf("every passed image baked: %v", err)
	}

	site := &Component{Catalog: &catalog.Component{Name: "tools", File: "site.yaml:31 (charts[0])", Namespace: "ops"}, Origin: OriginSite, Rendered: r}
	err = checkPassedImages([]*Component{site}, nil)
	if err == nil {
		t.Fatal("site chart: no error, want one per passed image")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "site chart tools: Deployment ops/ctl container controller ") ||
			!strings.HasSuffix(l, "the build does not bake it: list it in the chart's images (site.yaml:31 (charts[0]))") {
			t.Errorf("site chart: problem %q, want it named with the chart's images as the fix", l)
		}
	}
	if len(lines) != 3 {
		t.Errorf("site chart: %d problems, want 3 (executor, sidecar, worker):\n%v", len(lines), err)
	}
}

// opsCatalog is a catalog with component ops (opsChart from repo) and the
// images section given, as a catalog file.
func opsCatalog(t *testing.T, repo, images string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(fstest.MapFS{"c/ops.yaml": {Data: []byte(`description: an operator
namespace: ops
chart: {repo: "` + repo + `", name: ops, version: 1.0.0}
` + images)}}, "c")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

const opsImages = `images:
  - from: {workload: Deployment/ctl, container: controller, arg: --executor-image}
    why: the controller starts it
  - from: {workload: Deployment/ctl, container: controller, arg: --sidecar-image}
    why: the controller adds it
  - from: {workload: Deployment/ctl, container: controller, env: WORKER_IMAGE}
    why: workers
`

// TestResolveBakesWhatTheValuesName runs the whole resolution: a site's
// override of a run-time image bakes the overridden image, not the
// chart's default.
func TestResolveBakesWhatTheValuesName(t *testing.T) {
	repo := testrepo.ChartRepo(t, opsChart(t))
	cat := opsCatalog(t, repo.URL, opsImages)
	refs := func(p site.Platform) map[string]string {
		t.Helper()
		plan, err := Resolve(ctx, testSite(p), Options{Catalog: cat, Charts: newCache(t)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, n := range plan.Images {
			out[n.Ref] = strings.Join(n.From, "; ")
		}
		return out
	}
	def := refs(site.Platform{"ops": {}})
	if from := def["quay.io/example/executor:1.0"]; from != "catalog ops: Deployment ops/ctl container controller arg --executor-image: the controller starts it" {
		t.Errorf("executor: from %q; baked %v", from, def)
	}
	over := refs(site.Platform{"ops": {Values: site.Values{"executor": map[string]any{"tag": "2.0"}}}})
	if _, ok := over["quay.io/example/executor:2.0"]; !ok {
		t.Errorf("override executor.tag 2.0: baked %v, want quay.io/example/executor:2.0", over)
	}
	if _, ok := over["quay.io/example/executor:1.0"]; ok {
		t.Errorf("override executor.tag 2.0: the default quay.io/example/executor:1.0 is still baked")
	}
}

// TestResolveFailsOnAnUnbakedPassedImage: without a rule for the worker
// image, the build fails naming it; the site listing the image for the
// component is the other fix.
func TestResolveFailsOnAnUnbakedPassedImage(t *testing.T) {
	repo := testrepo.ChartRepo(t, opsChart(t))
	cat := opsCatalog(t, repo.URL, strings.TrimSuffix(opsImages, "  - from: {workload: Deployment/ctl, container: controller, env: WORKER_IMAGE}\n    why: workers\n"))
	_, err := Resolve(ctx, testSite(site.Platform{"ops": {}}), Options{Catalog: cat, Charts: newCache(t)})
	want := "platform ops: Deployment ops/ctl container controller env WORKER_IMAGE passes image quay.io/example/worker:1.0 to what it starts at run time, " +
		"and the build does not bake it: add an images entry with from: {workload: Deployment/ctl, container: controller, env: WORKER_IMAGE} to c/ops.yaml, " +
		"or list it in the site's platform.ops.images"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	if _, err := Resolve(ctx, testSite(site.Platform{"ops": {Images: []string{"quay.io/example/worker:1.0"}}}), Options{Catalog: cat, Charts: newCache(t)}); err != nil {
		t.Errorf("with the image in platform.ops.images: %v", err)
	}
}

// TestResolveFailsOnARuleThatFindsNothing names the entry's file and line.
func TestResolveFailsOnARuleThatFindsNothing(t *testing.T) {
	repo := testrepo.ChartRepo(t, opsChart(t))
	cat := opsCatalog(t, repo.URL, strings.Replace(opsImages, "--executor-image}", "--executor}", 1))
	_, err := Resolve(ctx, testSite(site.Platform{"ops": {}}), Options{Catalog: cat, Charts: newCache(t)})
	want := "platform ops: c/ops.yaml:5: images[0] (from Deployment/ctl container controller arg --executor): Deployment ops/ctl container controller has no arg --executor"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error\n got %v\nwant %s (...)", err, want)
	}
}
