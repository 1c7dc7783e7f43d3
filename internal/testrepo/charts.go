package testrepo

import (
	"testing"
	"testing/fstest"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/ml-appliance/appliance/builder/catalog"
)

func file(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }

// WebChart is chart "web" 1.0.0: a Deployment whose image tag comes from
// values, a pre-install hook Job, and a DaemonSet.
func WebChart() *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "web", Version: "1.0.0"},
		Values:   map[string]any{"tag": "1.25.4", "agent": map[string]any{"enabled": true}},
		Raw:      []*chart.File{file("values.yaml", "tag: 1.25.4\nagent:\n  enabled: true\n")},
		Templates: []*chart.File{
			file("templates/web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
      - name: nginx
        image: docker.io/library/nginx:{{ .Values.tag }}
`),
			file("templates/agent.yaml", `{{- if .Values.agent.enabled }}
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-agent
spec:
  template:
    spec:
      containers:
      - name: agent
        image: docker.io/library/busybox:1.36
{{- end }}
`),
			file("templates/setup.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: setup
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      containers:
      - name: setup
        image: ghcr.io/example/setup:2.0
`),
		},
	}
}

// DBChart is chart "db" 0.3.0: a StatefulSet that shares busybox with web.
func DBChart() *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "db", Version: "0.3.0"},
		Templates: []*chart.File{file("templates/sts.yaml", `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: docker.io/library/busybox:1.36
      containers:
      - name: db
        image: docker.io/library/postgres:16.4
`)},
	}
}

// Catalog lists components web (chart web from repo) and db (chart db
// from repo, requiring web, with a run-time image).
func Catalog(t testing.TB, repo string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(fstest.MapFS{
		"c/web.yaml": {Data: []byte(`description: a web server
namespace: web
chart: {repo: "` + repo + `", name: web, version: 1.0.0}
values:
  tag: "1.27.0"
endpoints:
  - {name: UI, service: web, port: 80, path: /}
credentials: none
`)},
		"c/db.yaml": {Data: []byte(`description: a database
namespace: data
release: main-db
requires: [web]
chart: {repo: "` + repo + `", name: db, version: 0.3.0}
images:
  - {ref: "quay.io/example/backup:3.1", why: backup jobs the operator starts}
readiness:
  timeout: 5m
  workloads: [StatefulSet/db]
`)},
		"c/app.yaml": {Data: []byte(`description: an operator with a cache
namespace: app
chart: {repo: "` + repo + `", name: app, version: 2.1.0}
readiness:
  workloads: [Deployment/app-operator]
`)},
	}, "c")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// AppChart is chart "app" 2.1.0 with subchart "cache" 0.2.0 (a Deployment
// of redis), a CRD and a custom resource naming an image, rendered only
// when the CRD's API is known (as a render against the cluster's API
// versions plus the chart's CRDs knows it).
func AppChart() *chart.Chart {
	cache := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "cache", Version: "0.2.0"},
		Templates: []*chart.File{file("templates/cache.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: cache
spec:
  template:
    spec:
      containers:
      - name: redis
        image: docker.io/library/redis:7.2
`)},
	}
	app := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "app", Version: "2.1.0",
			Dependencies: []*chart.Dependency{{Name: "cache", Version: "0.2.0"}}},
		Templates: []*chart.File{
			file("templates/operator.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-operator
spec:
  template:
    spec:
      containers:
      - name: operator
        image: docker.io/library/busybox:1.36
`),
			file("templates/widget.yaml", `{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  runtime:
    image: ghcr.io/example/widget:3.1
{{- end }}
`),
		},
		Files: []*chart.File{file("crds/widget.yaml", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true}
`)},
	}
	app.AddDependency(cache)
	return app
}
