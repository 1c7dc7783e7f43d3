package catalog_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v4/pkg/action"

	"github.com/ml-appliance/appliance/builder/charts"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/internal/kubetest"
)

// selfcheckWorkload is a Deployment named name running image, rendered
// only when cond (a template expression) holds.
func selfcheckWorkload(name, image, cond string) *chart.File {
	return &chart.File{Name: "templates/" + name + ".yaml", Data: []byte(`{{- if ` + cond + ` }}
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: {{ .Release.Namespace }}}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec: {containers: [{name: app, image: "` + image + `"}]}
{{- end }}
`)}
}

// selfcheckChart renders differently where a build (Helm 3, no cluster)
// and a Helm 4 install on a server can disagree.
func selfcheckChart() *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "selfcheck", Version: "0.1.0", Type: "application"},
		Templates: []*chart.File{
			selfcheckWorkload("always", "example.test/always:1", "true"),
			// lookup sees the cluster only when Helm installs on one: the
			// build cannot know what it will find.
			selfcheckWorkload("lookup-gated", "example.test/lookup:1", `lookup "v1" "Namespace" "" "kube-system"`),
			// A CRD the server serves that the chart does not ship, as
			// another component's CRDs are once it is installed.
			selfcheckWorkload("widget-gated", "example.test/widget:1", `.Capabilities.APIVersions.Has "example.com/v1/Widget"`),
			// Kubernetes 1.36 serves batch/v1 CronJob and no longer
			// policy/v1beta1: the build must see the same.
			selfcheckWorkload("kind-gated", "example.test/kind:1", `.Capabilities.APIVersions.Has "batch/v1/CronJob"`),
			selfcheckWorkload("beta-gated", "example.test/beta:1", `.Capabilities.APIVersions.Has "policy/v1beta1"`),
			{Name: "templates/client-only.yaml", Data: []byte(`{{- if not (lookup "v1" "Namespace" "" "kube-system") }}
apiVersion: v1
kind: ConfigMap
metadata: {name: client-only, namespace: {{ .Release.Namespace }}}
{{- end }}
`)},
			{Name: "templates/migrate.yaml", Data: []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: {{ .Release.Namespace }}
  annotations: {helm.sh/hook: pre-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "example.test/hook:1"}]
`)},
		},
	}
}

// TestHelm4ImageCheckCanFail shows that TestPlatformOnAPIServer's
// comparison of the build's images with a Helm 4 release fails when it
// should. A chart is rendered as the build renders it (charts.Render,
// charts.Images) and installed with Helm 4 (installChart) on a
// kube-apiserver serving a CRD the chart does not ship; the build's
// image set is then manipulated to lack the hook Job's image. Expected:
// the images and objects only Helm 4 has (lookup of a live object, the
// other CRD) and the hook's missing image are failures naming chart,
// object and image; the ConfigMap only the build's render has is a
// note; checks on Kubernetes's own kinds and versions agree. The served
// API versions check (checkServedAPIVersions) is shown to fail too.
func TestHelm4ImageCheckCanFail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver (make testassets)")
	}
	crd := filepath.Join(t.TempDir(), "widgets.yaml")
	if err := os.WriteFile(crd, []byte(widgetCRD), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := kubetest.Start(t, crd)
	k := newAPIClient(t, cfg)
	checkServedAPIVersionsCanFail(t, k)
	jobs := startJobCompleter(k.typed)
	defer jobs.stop(t)
	const ns = "helm4-selfcheck"
	ch := selfcheckChart()
	archive, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h3, err := charts.Render(ch, charts.RenderOptions{ReleaseName: "selfcheck", Namespace: ns, KubeVersion: "v1.36.2"})
	if err != nil {
		t.Fatal(err)
	}
	uses, err := charts.Images(ch, h3)
	if err != nil {
		t.Fatal(err)
	}
	var baked []platform.Need
	for _, u := range uses {
		if u.Image != "example.test/hook:1" {
			baked = append(baked, platform.Need{Ref: u.Image, From: u.From, Components: []string{"selfcheck"}})
		}
	}
	var hc helmChartSpec
	hc.Metadata.Name = "selfcheck"
	hc.Spec.Chart, hc.Spec.TargetNamespace, hc.Spec.CreateNamespace = "selfcheck-0.1.0.tgz", ns, true
	rel, err := installChart(t.TempDir(), writeKubeconfig(t, cfg), hc, archive, action.DryRunNone)
	if err != nil {
		t.Fatal(err)
	}
	f, err := compareHelm4("selfcheck", baked, h3, releaseRendered(rel))
	if err != nil {
		t.Fatal(err)
	}
	wantProblems := []string{
		"Helm 4 release: chart selfcheck: Deployment helm4-selfcheck/lookup-gated container app starts image example.test/lookup:1, which the build does not bake for selfcheck",
		"Helm 4 release: chart selfcheck: Deployment helm4-selfcheck/widget-gated container app starts image example.test/widget:1, which the build does not bake for selfcheck",
		"Helm 4 release: chart selfcheck: hook Job helm4-selfcheck/migrate container migrate starts image example.test/hook:1, which the build does not bake for selfcheck",
		"object Deployment.apps helm4-selfcheck/lookup-gated (selfcheck/templates/lookup-gated.yaml) is only in Helm 4's release and names images example.test/lookup:1",
		"object Deployment.apps helm4-selfcheck/widget-gated (selfcheck/templates/widget-gated.yaml) is only in Helm 4's release and names images example.test/widget:1",
	}
	wantNotes := []string{
		"object ConfigMap helm4-selfcheck/client-only (selfcheck/templates/client-only.yaml) only in Helm 3's render",
	}
	expectExactly(t, "problems", f.problems, wantProblems)
	expectExactly(t, "notes", f.notes, wantNotes)
}

// expectExactly fails t unless got and want hold the same lines, in any
// order, and logs each line got.
func expectExactly(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, g := range got {
		t.Logf("%s: reported as it should be: %s", what, g)
	}
}

// checkServedAPIVersionsCanFail shows that checkServedAPIVersions's
// comparison fails when it should: k's server serves the Widget CRD the
// build is not told of, and the build (manipulated) claims batch/v1beta1,
// which Kubernetes 1.36 does not serve.
func checkServedAPIVersionsCanFail(t *testing.T, k *apiClient) {
	t.Helper()
	build := append(slices.Clone(charts.KubernetesAPIVersions), "batch/v1beta1")
	got, _, err := servedAPIVersionProblems(k.disco, build, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"the server serves example.com/v1/Widget; the build renders charts as if it did not",
		"the server serves example.com/v1; the build renders charts as if it did not",
		"the build renders charts as if the server served batch/v1beta1; it does not",
	}
	expectExactly(t, "served API versions", got, want)
}
