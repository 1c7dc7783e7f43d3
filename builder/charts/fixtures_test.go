package charts

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/ml-appliance/appliance/internal/testrepo"
)

func file(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }

// testChart builds chart "app" 1.0.0 with subchart "db" 0.1.0: a Deployment
// with an initContainer and a values-driven tag, a pre-install hook Job, a
// CRD plus a CR with an image field gated on the CRD's API version, a
// Middleware gated on traefik.io/v1alpha1, and a helm.sh/images annotation.
func testChart() *chart.Chart {
	db := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "db", Version: "0.1.0"},
		Values:   map[string]any{"image": "docker.io/library/postgres:16.4"},
		Raw:      []*chart.File{file("values.yaml", "image: docker.io/library/postgres:16.4\n")},
		Templates: []*chart.File{
			file("templates/sts.yaml", `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: {{ .Release.Namespace }}
spec:
  template:
    spec:
      containers:
      - name: postgres
        image: {{ .Values.image }}
`),
			file("templates/backup.yaml", `apiVersion: batch/v1
kind: CronJob
metadata:
  name: db-backup
  namespace: {{ .Release.Namespace }}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: backup
            image: {{ .Values.image }}
`),
		},
	}
	app := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "app", Version: "1.0.0",
			Annotations: map[string]string{ImagesAnnotation: "- name: tools\n  image: docker.io/library/busybox:1.36\n"}},
		Values: map[string]any{"image": map[string]any{"tag": "1.25.4"}},
		Raw:    []*chart.File{file("values.yaml", "image:\n  tag: 1.25.4\n")},
		Templates: []*chart.File{
			file("templates/web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {{ .Release.Namespace }}
spec:
  template:
    spec:
      initContainers:
      - name: wait
        image: docker.io/library/busybox:1.36
      containers:
      - name: nginx
        image: docker.io/library/nginx:{{ .Values.image.tag }}
`),
			file("templates/migrate.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: {{ .Release.Namespace }}
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      containers:
      - name: migrate
        image: ghcr.io/example/migrate:2.0
`),
			file("templates/widget.yaml", `{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: {{ .Release.Namespace }}
spec:
  runtime:
    image: ghcr.io/example/widget:3.1
    repository: ghcr.io/example/not-an-image
    tag: "9"
{{- end }}
`),
			file("templates/middleware.yaml", `{{- if .Capabilities.APIVersions.Has "traefik.io/v1alpha1" }}
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata:
  name: strip
  namespace: {{ .Release.Namespace }}
spec:
  stripPrefix:
    prefixes: ["/app"]
{{- end }}
`),
		},
		Files: []*chart.File{file("crds/widget.yaml", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
`)},
	}
	app.AddDependency(db)
	return app
}

// saveChart writes ch as a .tgz in dir and returns its path and sha256 hex.
func saveChart(t *testing.T, ch *chart.Chart, dir string) (string, string) {
	t.Helper()
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return p, hex.EncodeToString(sum[:])
}

// chartRepo serves ch from a chart repository on 127.0.0.1 whose
// index.yaml gives indexDigest for it (its real digest when empty). It
// returns the repo URL and the real digest (hex).
func chartRepo(t *testing.T, ch *chart.Chart, indexDigest string) (string, string) {
	t.Helper()
	srv, sum := countedChartRepo(t, ch, indexDigest)
	return srv.URL, sum
}

// countedChartRepo is chartRepo returning the server, which counts the
// requests it gets.
func countedChartRepo(t *testing.T, ch *chart.Chart, indexDigest string) (*testrepo.Server, string) {
	t.Helper()
	srv := testrepo.ChartRepo(t)
	return srv, strings.TrimPrefix(srv.AddChartListed(t, ch, indexDigest), "sha256:")
}

// pushChart pushes testChart to the OCI registry reference ref (plain
// HTTP, on 127.0.0.1) as Helm does, and returns the archive's sha256 hex
// and the manifest digest.
func pushChart(t *testing.T, ref string) (string, string) {
	t.Helper()
	sum, manifest := testrepo.PushChart(t, testChart(), ref)
	return strings.TrimPrefix(sum, "sha256:"), manifest
}
