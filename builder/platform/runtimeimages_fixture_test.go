package platform

import (
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/charts"
)

// opsChart renders what controllers and operators do with run-time images
// in the catalog's real charts, each way once: a controller given an image
// as "--flag value" (Argo Workflows' --executor-image) and as
// "--flag=value" (the Prometheus operator's), one in an environment
// variable (Seldon's EXECUTOR_CONTAINER_IMAGE_AND_VERSION), images kept as
// JSON in a ConfigMap (Seldon's seldon-config), plus flags and variables
// whose names say image but whose values are not images.
func opsChart(t *testing.T) *chart.Chart {
	t.Helper()
	tpl := func(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "ops", Version: "1.0.0", AppVersion: "1.0"},
		Templates: []*chart.File{
			tpl("templates/controller.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ctl
spec:
  template:
    spec:
      containers:
        - name: controller
          image: quay.io/example/controller:1.0
          command: [controller]
          args:
            - --executor-image
            - "{{ .Values.executor.registry }}/{{ .Values.executor.repository }}:{{ .Values.executor.tag | default .Chart.AppVersion }}"
            - --sidecar-image={{ .Values.sidecar }}
            - --image-pull-policy=IfNotPresent
            - --skip-image-check
            - --verbose
          env:
            - {name: WORKER_IMAGE, value: "{{ .Values.worker }}"}
            - {name: IMAGE_PULL_POLICY, value: Always}
            - name: TOKEN_IMAGE
              valueFrom: {secretKeyRef: {name: token, key: image}}
`),
			tpl("templates/config.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: servers
data:
  predictor_servers: '{{ .Values.servers | toJson }}'
  initializer: "{{ .Values.initializer }}"
  settings.yaml: |
    executor:
      image: {{ .Values.settingsImage }}
`),
		},
		Values: map[string]any{
			"executor":      map[string]any{"registry": "quay.io", "repository": "example/executor", "tag": ""},
			"sidecar":       "quay.io/example/sidecar:1.0",
			"worker":        "quay.io/example/worker:1.0",
			"initializer":   "quay.io/example/init:1.0",
			"settingsImage": "quay.io/example/settings:1.0",
			"servers": map[string]any{
				"SKLEARN_SERVER": map[string]any{"protocols": map[string]any{
					"seldon": map[string]any{"image": "example/sklearnserver", "defaultImageVersion": "1.18.2"},
					"v2":     map[string]any{"image": "example/mlserver", "defaultImageVersion": "1.3.5-sklearn"},
				}},
			},
			"notebook":      map[string]any{"name": "quay.io/example/notebook", "tag": "2026-07-28"},
			"profiles":      []any{},
			"blockMetadata": false,
			"networkTools":  map[string]any{"name": "quay.io/example/network-tools", "tag": "4.4.0"},
		},
	}
	// A packaged chart keeps its defaults as values.yaml.
	raw, err := yaml.Marshal(ch.Values)
	if err != nil {
		t.Fatal(err)
	}
	ch.Raw = []*chart.File{tpl("values.yaml", string(raw))}
	return ch
}

// opsEntry is a catalog entry for opsChart with rules; line numbers stand
// for where they would be in c/ops.yaml.
func opsEntry(rules ...*catalog.Source) *catalog.Component {
	c := &catalog.Component{Name: "ops", File: "c/ops.yaml", Namespace: "ops"}
	for i, r := range rules {
		c.Images = append(c.Images, catalog.Image{From: r, Why: "why " + r.String(), Line: 10 + 2*i})
	}
	return c
}

// renderOps renders opsChart with values over its defaults and returns the
// render and the values it was rendered with.
func renderOps(t *testing.T, values map[string]any) (*charts.Rendered, map[string]any) {
	t.Helper()
	ch := opsChart(t)
	r, err := charts.Render(ch, charts.RenderOptions{ReleaseName: "ops", Namespace: "ops", Values: values, KubeVersion: "v1.36.2+k3s1"})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := RenderValues(ch, values)
	if err != nil {
		t.Fatal(err)
	}
	return r, vals
}
