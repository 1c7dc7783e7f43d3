package catalog_test

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v4/pkg/action"

	"github.com/ml-appliance/appliance/builder/charts"
	"github.com/ml-appliance/appliance/internal/kubetest"
)

// widgetCRD serves example.com/v1 Widget with an integer spec.size.
const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}`

// TestAPIServerChecksCanFail shows that TestPlatformOnAPIServer's checks
// fail when they should: every object the API server rejects is reported
// once, naming its template, and the Helm 4 install (server-side apply,
// strict field validation) fails on an object with a field its API does
// not have.
func TestAPIServerChecksCanFail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver (make testassets)")
	}
	cfg := kubetest.Start(t)
	k := newAPIClient(t, cfg)
	r := &charts.Rendered{Chart: "broken", Manifests: []charts.Manifest{
		{Template: "broken/templates/widget.yaml", Content: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: big}"},
		{Template: "broken/crds/widgets.yaml", Content: widgetCRD},
		{Template: "broken/templates/ok.yaml", Content: "# Source: broken/templates/ok.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {a: b}"},
		{Template: "broken/templates/unknown-field.yaml", Content: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\nbogus: 1"},
		{Template: "broken/templates/elsewhere.yaml", Content: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, namespace: nowhere}"},
		{Template: "broken/templates/unserved.yaml", Content: "apiVersion: example.com/v9\nkind: Gadget\nmetadata: {name: g}"},
		{Template: "broken/templates/empty.yaml", Content: "# Source: broken/templates/empty.yaml"},
	}}
	n, errs := k.createRendered("broken", r)
	if n != 2 {
		t.Errorf("created %d objects, want 2 (the CRD and ConfigMap ok)", n)
	}
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	// The Widget comes before its CRD: created CRDs first, it is rejected
	// by the CRD's schema, not for want of the kind.
	for _, want := range [][2]string{
		{"Widget broken/w (broken/templates/widget.yaml)", "spec.size"},
		{"ConfigMap broken/extra (broken/templates/unknown-field.yaml)", "bogus"},
		{"ConfigMap nowhere/elsewhere (broken/templates/elsewhere.yaml)", "not found"},
		{"Gadget g (broken/templates/unserved.yaml)", "does not serve"},
	} {
		if !containsMatch(got, want[0], want[1]) {
			t.Errorf("no rejection of %s mentioning %q; got %q", want[0], want[1], got)
		}
	}
	for _, g := range got {
		t.Logf("rejected as it should be: %s", g)
	}
	if len(got) != 4 {
		t.Errorf("%d rejections reported, want 4: %q", len(got), got)
	}

	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "unknown-field", Version: "0.1.0", Type: "application"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: {{ .Values.a | quote }}}\nbogus: 1\n")}},
	}
	archive, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var hc helmChartSpec
	hc.Metadata.Name = "unknown-field"
	hc.Spec.Chart, hc.Spec.TargetNamespace, hc.Spec.CreateNamespace = "unknown-field-0.1.0.tgz", "selfcheck", true
	hc.Spec.ValuesContent = "a: b\n"
	_, err = installChart(t.TempDir(), writeKubeconfig(t, cfg), hc, archive, action.DryRunNone)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("helm install of a ConfigMap with an unknown field: got %v, want an error naming the field", err)
	}
	t.Logf("helm install failed as it should: %v", err)
}

// containsMatch says whether an entry of list starts with prefix and
// mentions part.
func containsMatch(list []string, prefix, part string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) && strings.Contains(s, part) {
			return true
		}
	}
	return false
}
