package charts

import (
	"os"
	"path/filepath"
	"testing"
)

// rankerChart is a site's own chart directory, "ranker" 0.2.0: a search
// ranking service (Deployment, Service, a pre-install migration Job) with
// its cache vendored under charts/ as a directory, a .helmignore, and
// files that .helmignore keeps out (one that fails the render if it
// were loaded).
var rankerChart = map[string]string{
	"Chart.yaml": `apiVersion: v2
name: ranker
description: Search result ranking service
version: 0.2.0
appVersion: "1.4.2"
dependencies:
  - name: cache
    version: 0.1.0
    repository: https://charts.example/
    condition: cache.enabled
`,
	"values.yaml": `image:
  repository: registry.example/search/ranker
  tag: 1.4.2
replicas: 2
cache:
  enabled: true
`,
	".helmignore": "# editor leftovers and design notes\n*.bak\nnotes/\n",
	"README.md":   "# ranker\n\nRanks search results.\n",
	"templates/_helpers.tpl": `{{- define "ranker.labels" -}}
app.kubernetes.io/name: ranker
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "ranker.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ranker.labels" . | nindent 8 }}
    spec:
      containers:
        - name: ranker
          image: {{ .Values.image.repository }}:{{ .Values.image.tag }}
          ports:
            - containerPort: 8000
`,
	"templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  selector:
    {{- include "ranker.labels" . | nindent 4 }}
  ports:
    - port: 80
      targetPort: 8000
`,
	"templates/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  namespace: {{ .Release.Namespace }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: {{ .Values.image.repository }}-migrate:{{ .Values.image.tag }}
`,
	"templates/deployment.yaml.bak": `{{ fail "a .helmignore'd file was rendered" }}`,
	"notes/design.md":               "# why ranker has a cache\n",
	"charts/cache/Chart.yaml": `apiVersion: v2
name: cache
version: 0.1.0
`,
	"charts/cache/values.yaml": "image: docker.io/library/redis:7.2.5\n",
	"charts/cache/templates/statefulset.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-cache
  namespace: {{ .Release.Namespace }}
spec:
  serviceName: {{ .Release.Name }}-cache
  selector:
    matchLabels: {app: cache}
  template:
    metadata:
      labels: {app: cache}
    spec:
      containers:
        - name: redis
          image: {{ .Values.image }}
`,
}

// rankerImages is what ranker renders (release "ranker" in "search").
var rankerImages = []ImageUse{
	{Image: "docker.io/library/redis:7.2.5", From: []string{"chart cache: StatefulSet search/ranker-cache container redis"}},
	{Image: "registry.example/search/ranker-migrate:1.4.2", From: []string{"chart ranker: hook Job search/ranker-migrate container migrate"}},
	{Image: "registry.example/search/ranker:1.4.2", From: []string{"chart ranker: Deployment search/ranker container ranker"}},
}

// writeTree writes files (path below root: content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rankerDir writes rankerChart with changes (content by path; "" leaves
// the file out) into a new directory and returns it.
func rankerDir(t *testing.T, changes map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ranker")
	files := map[string]string{}
	for k, v := range rankerChart {
		files[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(files, k)
		} else {
			files[k] = v
		}
	}
	writeTree(t, dir, files)
	return dir
}
