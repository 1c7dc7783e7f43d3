package catalog

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/ml-appliance/appliance/builder/charts"
)

// ruleChart renders a Deployment, a Service, a ConfigMap and a hook Job
// from values, so each test case can break one rule.
func ruleChart() *chart.Chart {
	tpl := func(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "app", Version: "1.0.0"},
		Templates: []*chart.File{
			tpl("templates/web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          imagePullPolicy: {{ .Values.pullPolicy }}
          args: ["--sidecar-image=quay.io/example/sidecar:1.0"]
`),
			tpl("templates/svc.yaml", `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: {{ .Values.serviceType }}
  ports:
    - port: 80
`),
			tpl("templates/cm.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
data:
  config.yaml: |
    executor:
      imagePullPolicy: {{ .Values.executorPullPolicy }}
`),
			tpl("templates/job.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      containers:
        - name: migrate
          image: {{ .Values.hookImage }}
`),
		},
		Values: map[string]any{
			"replicas": 1, "image": "quay.io/example/web:1.0", "pullPolicy": "IfNotPresent",
			"serviceType": "ClusterIP", "executorPullPolicy": "IfNotPresent", "hookImage": "quay.io/example/migrate:1.0",
		},
	}
}

func ruleComponent() *Component {
	return &Component{
		Name: "app", File: "catalog/app.yaml", Namespace: "apps",
		Readiness: Readiness{Workloads: []string{"Deployment/web"}},
		Endpoints: []Endpoint{{Name: "UI", Service: "web", Port: 80}},
	}
}

func TestCheckRender(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		edit   func(c *Component)
		want   []string
	}{
		{name: "clean"},
		// Problems come in Helm's install order (ConfigMap, Service,
		// Deployment, then hooks).
		{
			name:   "unpinned images",
			values: map[string]any{"image": "quay.io/example/web:latest", "hookImage": "quay.io/example/migrate"},
			want: []string{
				`image "quay.io/example/migrate" has no tag or digest: pin one (chart app: hook Job migrate container migrate)`,
				`image "quay.io/example/web:latest": the latest tag moves; pin a version (chart app: Deployment web container web)`,
			},
		},
		{
			name:   "pull policy Always, in a pod spec and in configuration text",
			values: map[string]any{"pullPolicy": "Always", "executorPullPolicy": "Always"},
			want: []string{
				"ConfigMap config: data.config.yaml sets an image pull policy Always in its text; use IfNotPresent",
				"Deployment web: spec.template.spec.containers[0].imagePullPolicy is Always; an air-gapped node cannot pull, use IfNotPresent",
			},
		},
		{
			name:   "LoadBalancer and replicas",
			values: map[string]any{"serviceType": "LoadBalancer", "replicas": 3},
			want: []string{
				"Service web is type LoadBalancer: it would take a ServiceLB port from Traefik; use ClusterIP",
				"Deployment web has 3 replicas; a small cluster runs 1",
			},
		},
		{
			name: "missing workload and endpoint",
			edit: func(c *Component) {
				c.Readiness.Workloads = append(c.Readiness.Workloads, "StatefulSet/db", "Job/migrate")
				c.Endpoints = append(c.Endpoints, Endpoint{Name: "API", Service: "web", Port: 9000}, Endpoint{Name: "admin", Service: "admin", Port: 8080})
			},
			want: []string{
				"readiness workload StatefulSet/db is not rendered in namespace apps (rendered: Deployment/web)",
				"readiness workload Job/migrate is not rendered in namespace apps (rendered: Deployment/web)",
				`endpoint "API": Service web has no port 9000 (it has 80)`,
				`endpoint "admin": Service admin is not rendered in namespace apps`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ruleComponent()
			if tt.edit != nil {
				tt.edit(c)
			}
			ch := ruleChart()
			r, err := charts.Render(ch, charts.RenderOptions{ReleaseName: "app", Namespace: "apps", Values: tt.values, KubeVersion: targetKubeVersion})
			if err != nil {
				t.Fatal(err)
			}
			got := checkRender(c, ch, r)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestTextImages finds the image a container argument names; image fields
// are left to charts.Images.
func TestTextImages(t *testing.T) {
	ch := ruleChart()
	r, err := charts.Render(ch, charts.RenderOptions{ReleaseName: "app", Namespace: "apps", KubeVersion: targetKubeVersion})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseObjects(r)
	if err != nil {
		t.Fatal(err)
	}
	got := textImages(objs)
	want := []textImage{{Ref: "quay.io/example/sidecar:1.0", Where: "Deployment web: spec.template.spec.containers[0].args[0]"}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("textImages = %+v, want %+v", got, want)
	}
}
