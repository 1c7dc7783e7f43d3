package platform

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/site"
)

func TestHelmChartManifest(t *testing.T) {
	repo := repoWithCharts(t)
	plan, err := Resolve(ctx, testSite(site.Platform{"db": {}, "web": {}}), Options{Catalog: testCatalog(t, repo.URL), Charts: newCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range plan.Components {
		hc, err := HelmChart(c)
		if err != nil {
			t.Fatal(err)
		}
		got[c.Catalog.Name] = string(hc)
	}
	want := map[string]string{
		"db": `# db: a database (chart db 0.3.0), baked by the appliance builder.
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: main-db
  namespace: kube-system
spec:
  chart: https://%{KUBERNETES_API}%/static/charts/db-0.3.0.tgz
  createNamespace: true
  targetNamespace: data
  timeout: 5m0s
`,
		"web": `# web: a web server (chart web 1.0.0), baked by the appliance builder.
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: web
  namespace: kube-system
spec:
  chart: https://%{KUBERNETES_API}%/static/charts/web-1.0.0.tgz
  createNamespace: true
  targetNamespace: web
  timeout: 10m0s
  valuesContent: |
    tag: 1.27.0
`,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got:\n%s\nwant:\n%s", name, got[name], w)
		}
	}
}

func TestRegistriesEnablesTheMirrorPerRegistry(t *testing.T) {
	got, err := Registries([]Need{{Ref: "nginx:1.25"}, {Ref: "quay.io/a/b:1"}, {Ref: "docker.io/library/busybox:1.36"},
		{Ref: "127.0.0.1:5000/x@sha256:" + "ab" + strings.Repeat("0", 62)}})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Baked by the appliance builder: the embedded registry mirror serves these
# registries' images from the cluster's nodes.
mirrors:
  "127.0.0.1:5000":
  "docker.io":
  "quay.io":
`
	if string(got) != want {
		t.Errorf("registries.yaml:\n got:\n%s\nwant:\n%s", got, want)
	}
}
