package charts

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"
)

// tinyModelServer is the example of a site's own chart that
// configs/three-servers.yaml names.
const tinyModelServer = "../../configs/charts/tiny-model-server"

// renderTiny packages tiny-model-server, renders it as release
// "tiny-model" in "models" with values, and returns its images and its
// objects by "Kind/name".
func renderTiny(t *testing.T, values map[string]any) ([]ImageUse, map[string]map[string]any) {
	t.Helper()
	p, err := PackageLocal(tinyModelServer, t.TempDir(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "tiny-model-server" || p.Version != "0.1.0" {
		t.Errorf("chart %s %s, want tiny-model-server 0.1.0", p.Name, p.Version)
	}
	r, err := Render(p.Chart, RenderOptions{ReleaseName: "tiny-model", Namespace: "models", Values: values, KubeVersion: "v1.36.2"})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := Images(p.Chart, r)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for _, m := range r.Manifests {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(m.Content), &obj); err != nil {
			t.Fatalf("%s: %v", m.Template, err)
		}
		meta, _ := obj["metadata"].(map[string]any)
		objs[obj["kind"].(string)+"/"+meta["name"].(string)] = obj
	}
	return imgs, objs
}

// TestTinyModelServer: the example chart loads, packages, renders to a
// Deployment, a Service and a ConfigMap, with its pinned MLServer image
// and nothing else, with and without a model volume.
func TestTinyModelServer(t *testing.T) {
	want := []ImageUse{{Image: "docker.io/seldonio/mlserver:1.3.5-sklearn",
		From: []string{"chart tiny-model-server: Deployment tiny-model container mlserver"}}}
	for _, tc := range []struct {
		name    string
		values  map[string]any
		volumes int
	}{
		{"no model volume", nil, 0},
		{"model on a claim", map[string]any{"model": map[string]any{"claimName": "iris-model"}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs, objs := renderTiny(t, tc.values)
			if !reflect.DeepEqual(imgs, want) {
				t.Errorf("images %v, want %v", imgs, want)
			}
			var kinds []string
			for k := range objs {
				kinds = append(kinds, k)
			}
			if len(objs) != 3 || objs["Deployment/tiny-model"] == nil || objs["Service/tiny-model"] == nil || objs["ConfigMap/tiny-model-model-settings"] == nil {
				t.Fatalf("objects %v, want Deployment/tiny-model, Service/tiny-model, ConfigMap/tiny-model-model-settings", kinds)
			}
			pod := dig(objs["Deployment/tiny-model"], []string{"spec", "template", "spec"})
			c := pod["containers"].([]any)[0].(map[string]any)
			probe := dig(c, []string{"readinessProbe", "httpGet"})
			if probe["path"] != "/v2/health/ready" || probe["port"] != "http" || !hasPort(c, "http", 8080) {
				t.Errorf("readiness probe %v on ports %v, want /v2/health/ready on http (8080)", probe, c["ports"])
			}
			if vols, _ := pod["volumes"].([]any); len(vols) != tc.volumes {
				t.Errorf("volumes %v, want %d", vols, tc.volumes)
			}
			var settings struct {
				Name           string
				Implementation string
				Parameters     struct{ URI string }
			}
			data := dig(objs["ConfigMap/tiny-model-model-settings"], []string{"data"})
			if err := json.Unmarshal([]byte(data["model-settings.json"].(string)), &settings); err != nil ||
				settings.Name != "iris" || settings.Implementation != "mlserver_sklearn.SKLearnModel" || settings.Parameters.URI != "/mnt/model-store/model.joblib" {
				t.Errorf("model-settings.json %+v (%v)", settings, err)
			}
		})
	}
}

func hasPort(container map[string]any, name string, port float64) bool {
	ports, _ := container["ports"].([]any)
	for _, p := range ports {
		pm, _ := p.(map[string]any)
		if pm["name"] == name && pm["containerPort"] == port {
			return true
		}
	}
	return false
}

// TestTinyModelServerLints: `helm lint --strict` (Helm's own linter)
// finds nothing to warn about in the example chart.
func TestTinyModelServerLints(t *testing.T) {
	lint := action.NewLint()
	lint.Strict = true
	lint.Namespace = "models"
	kv, err := chartutil.ParseKubeVersion("v1.36.2")
	if err != nil {
		t.Fatal(err)
	}
	lint.KubeVersion = kv
	res := lint.Run([]string{tinyModelServer}, nil)
	var msgs []string
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			msgs = append(msgs, m.Error())
		}
	}
	if len(res.Errors) != 0 || len(msgs) != 0 || res.TotalChartsLinted != 1 {
		t.Errorf("helm lint --strict: %v\n%s", res.Errors, strings.Join(msgs, "\n"))
	}
}
