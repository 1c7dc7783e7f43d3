package charts

import (
	"reflect"
	"strings"
	"testing"
)

type renderedObject struct {
	Template string
	Hook     bool
}

func objects(r *Rendered) []renderedObject {
	var out []renderedObject
	for _, m := range r.Manifests {
		out = append(out, renderedObject{m.Template, m.Hook})
	}
	return out
}

func TestRenderAPIVersionGates(t *testing.T) {
	all := []renderedObject{
		{"app/crds/widget.yaml", false},
		{"app/templates/web.yaml", false},
		{"app/charts/db/templates/sts.yaml", false},
		{"app/charts/db/templates/backup.yaml", false},
		{"app/templates/middleware.yaml", false},
		{"app/templates/widget.yaml", false},
		{"app/templates/migrate.yaml", true},
	}
	tests := []struct {
		name string
		apis []string
		want []renderedObject
	}{
		// K3s serves traefik.io/v1alpha1: the Middleware renders.
		{"k3s API versions", nil, all},
		// Without it only the Middleware is dropped; the Widget still
		// renders because the chart ships its CRD.
		{"no extra API versions", []string{}, append(append([]renderedObject{}, all[:4]...), all[5:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(testChart(), RenderOptions{ReleaseName: "app", Namespace: "apps", KubeVersion: "v1.33.5", APIVersions: tt.apis})
			if err != nil {
				t.Fatal(err)
			}
			if got := objects(r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rendered\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestRenderKubeVersion(t *testing.T) {
	ch := testChart()
	ch.Templates = append(ch.Templates, file("templates/version.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: version
data:
  version: {{ .Capabilities.KubeVersion.Version | quote }}
`))
	r, err := Render(ch, RenderOptions{ReleaseName: "app", Namespace: "apps", KubeVersion: "v1.33.5"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Source: app/templates/version.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: version\ndata:\n  version: \"v1.33.5\""
	var got string
	for _, m := range r.Manifests {
		if m.Template == "app/templates/version.yaml" {
			got = m.Content
		}
	}
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	_, err = Render(ch, RenderOptions{KubeVersion: "latest"})
	if want := `render chart app: kubernetes version "latest": `; err == nil || err.Error()[:len(want)] != want {
		t.Errorf("error %v, want prefix %s", err, want)
	}
}

// TestRenderServedKubernetesAPIs checks that a chart sees Kubernetes's own
// API versions as Helm on a 1.36 server lists them (KubernetesAPIVersions):
// kinds included, versions the server no longer serves left out, where
// `helm template` (chartutil.DefaultVersionSet) says the opposite.
func TestRenderServedKubernetesAPIs(t *testing.T) {
	ch := testChart()
	for _, gate := range []string{"batch/v1/CronJob", "policy/v1/PodDisruptionBudget", "policy/v1", "policy/v1beta1", "batch/v1beta1", "resource.k8s.io/v1alpha3"} {
		ch.Templates = append(ch.Templates, file("templates/"+strings.NewReplacer("/", "-", ".", "-").Replace(gate)+".yaml",
			`{{- if .Capabilities.APIVersions.Has "`+gate+`" }}
apiVersion: v1
kind: ConfigMap
metadata: {name: gated}
{{- end }}
`))
	}
	r, err := Render(ch, RenderOptions{ReleaseName: "app", Namespace: "apps", KubeVersion: "v1.36.2"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range r.Manifests {
		if strings.Contains(m.Content, "name: gated") {
			got = append(got, m.Template)
		}
	}
	want := []string{"app/templates/batch-v1-CronJob.yaml", "app/templates/policy-v1-PodDisruptionBudget.yaml", "app/templates/policy-v1.yaml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("templates whose API version the chart was told is served:\n got %q\nwant %q", got, want)
	}
}
