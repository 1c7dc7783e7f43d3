package catalog

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// validEntry is a correct component file; tests replace one line of it.
const validEntry = `description: Web app
namespace: apps
chart:
  repo: https://charts.example.com
  name: web
  version: 1.2.3
images:
  - ref: quay.io/example/worker:2.0
    why: the app starts workers
readiness:
  timeout: 5m
  workloads: [Deployment/web]
endpoints:
  - {name: UI, service: web, port: 80}
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{
			name:  "unknown key with its line",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "namespace: apps\n", "namespace: apps\nnamesapce: typo\n", 1))}},
			want:  "catalog/web.yaml: yaml: unmarshal errors:\n  line 3: field namesapce not found in type catalog.Component",
		},
		{
			name:  "latest tag",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "worker:2.0", "worker:latest", 1))}},
			want:  `catalog/web.yaml: line 8: images[0].ref: "quay.io/example/worker:latest": the latest tag moves; pin a version`,
		},
		{
			name:  "untagged image",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "worker:2.0", "worker", 1))}},
			want:  `catalog/web.yaml: line 8: images[0].ref: "quay.io/example/worker" has no tag or digest: pin one`,
		},
		{
			name:  "range version",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "version: 1.2.3", "version: ^1.2.0", 1))}},
			want:  `catalog/web.yaml: chart.version: "^1.2.0": want an exact version (x.y.z), not a range`,
		},
		{
			name:  "bad workload kind",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "[Deployment/web]", "[Pod/web]", 1))}},
			want:  `catalog/web.yaml: readiness.workloads[0]: "Pod/web" is not Kind/name with Kind one of Deployment, StatefulSet, DaemonSet`,
		},
		{
			name:  "workload without name",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "[Deployment/web]", "[Deployment]", 1))}},
			want:  `catalog/web.yaml: readiness.workloads[0]: "Deployment" is not Kind/name with Kind one of Deployment, StatefulSet, DaemonSet`,
		},
		{
			name:  "bad duration with its line",
			files: fstest.MapFS{"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "timeout: 5m", "timeout: 5 minutes", 1))}},
			want:  `catalog/web.yaml: line 11: "5 minutes" is not a duration like 10m or 90s`,
		},
		{
			name: "missing requires target",
			files: fstest.MapFS{
				"catalog/web.yaml": {Data: []byte(validEntry + "requires: [db]\n")},
			},
			want: `catalog/web.yaml: requires: no component "db" in the catalog`,
		},
		{
			name: "problems in two files",
			files: fstest.MapFS{
				"catalog/web.yaml": {Data: []byte(strings.Replace(validEntry, "worker:2.0", "worker:latest", 1))},
				"catalog/db.yaml":  {Data: []byte(strings.Replace(validEntry, "namespace: apps", "namespace: Apps", 1))},
			},
			want: "catalog/db.yaml: namespace: \"Apps\" is not a lowercase DNS label\n" +
				`catalog/web.yaml: line 8: images[0].ref: "quay.io/example/worker:latest": the latest tag moves; pin a version`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.files, "catalog")
			if err == nil {
				t.Fatalf("Load succeeded, want error\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadValidEntry(t *testing.T) {
	cat, err := Load(fstest.MapFS{
		"catalog/web.yaml": {Data: []byte(validEntry)},
		"catalog/db.yaml":  {Data: []byte("description: Database\nnamespace: db\nchart: {repo: oci://registry.example.com/charts, name: db, version: 0.1.0}\n")},
	}, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cat.Names(), []string{"db", "web"}; !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	db, _ := cat.Component("db")
	web, _ := cat.Component("web")
	if db.Readiness.Timeout != DefaultTimeout || time.Duration(web.Readiness.Timeout) != 5*time.Minute {
		t.Errorf("timeouts db %v web %v, want %v and 5m", db.Readiness.Timeout, web.Readiness.Timeout, DefaultTimeout)
	}
	if db.ReleaseName() != "db" || web.File != "catalog/web.yaml" {
		t.Errorf("db release %q, web file %q", db.ReleaseName(), web.File)
	}
}

// TestDefaultCatalog loads the embedded catalog: every entry passes the
// strict loader, and the platform's components are all there.
func TestDefaultCatalog(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"argo-cd", "argo-workflows", "jupyterhub", "minio", "mlflow", "monitoring", "nfs-provisioner", "sealed-secrets", "seldon-core"}
	if got := cat.Names(); !slices.Equal(got, want) {
		t.Errorf("components %v, want %v", got, want)
	}
	for _, c := range cat.Components() {
		if c.Optional != (c.Name == "nfs-provisioner") {
			t.Errorf("%s: optional %v", c.File, c.Optional)
		}
		if len(c.Readiness.Workloads) == 0 {
			t.Errorf("%s: no readiness workloads: name them so a chart update that renames one is caught", c.File)
		}
		if c.Credentials == "" {
			t.Errorf("%s: credentials: say where the initial credentials are, or that there are none", c.File)
		}
	}
}

func TestCheckImageRef(t *testing.T) {
	for ref, want := range map[string]string{
		"burakince/mlflow:3.15.1": "",
		"nginx:1.27":              "",
		"quay.io/x/y@sha256:" + strings.Repeat("a", 64): "",
		"127.0.0.1:5000/x/y":                            `"127.0.0.1:5000/x/y" has no tag or digest: pin one`,
		"nginx":                                         `"nginx" has no tag or digest: pin one`,
		"nginx:latest":                                  `"nginx:latest": the latest tag moves; pin a version`,
		"Nginx:1":                                       `"Nginx:1": could not parse reference: Nginx:1`,
	} {
		got := ""
		if err := CheckImageRef(ref); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("CheckImageRef(%q) = %q, want %q", ref, got, want)
		}
	}
}
