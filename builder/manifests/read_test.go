package manifests

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/charts"
)

// TestReadGood reads testdata/good the way a site lists it: one file and
// one directory holding a CronJob, a Deployment, a custom resource with
// image fields, a JSON List of RBAC objects, and files K3s skips.
func TestReadGood(t *testing.T) {
	set, err := Read([]string{"testdata/good/monitor.yaml", "testdata/good/extra/"})
	if err != nil {
		t.Fatal(err)
	}
	type placed struct {
		Name, Addon, Source, Where string
		Objects                    []Object
	}
	var got []placed
	for _, f := range set.Files() {
		got = append(got, placed{f.Name, f.Addon, f.Source, f.Where, f.Objects})
	}
	want := []placed{
		{"monitor.yaml", "monitor", "testdata/good/monitor.yaml", "monitor.yaml", []Object{
			{"v1", "Namespace", "", "models", 3},
			{"batch/v1", "CronJob", "models", "retrain", 10},
			{"v1", "ConfigMap", "models", "retrain-settings", 31},
		}},
		{"predictor.yaml", "predictor", "testdata/good/extra/models/predictor.yaml", "extra/models/predictor.yaml", []Object{
			{"serving.example.com/v1alpha1", "ModelServer", "models", "tiny-model", 2},
		}},
		{"rbac.yaml", "rbac", "testdata/good/extra/rbac.json", "extra/rbac.json", []Object{
			{"rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:model-reader", 1},
			{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "system:model-reader", 1},
		}},
		{"web.yaml", "web", "testdata/good/extra/web.yml", "extra/web.yml", []Object{
			{"apps/v1", "Deployment", "models", "web", 1},
			{"v1", "Service", "models", "web", 19},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files:\ngot  %+v\nwant %+v", got, want)
	}
	wantImages := []charts.ImageUse{
		{Image: "registry.example/mirror/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
			From: []string{"site manifest extra/web.yml: Deployment models/web container proxy"}},
		{Image: "registry.example/team/fetch:2.0", From: []string{"site manifest monitor.yaml: CronJob models/retrain initContainer fetch"}},
		{Image: "registry.example/team/metrics-exporter:1.0", From: []string{"site manifest extra/models/predictor.yaml: ModelServer models/tiny-model field spec.sidecars[0].image"}},
		{Image: "registry.example/team/tiny-model:0.1.0", From: []string{"site manifest extra/models/predictor.yaml: ModelServer models/tiny-model field spec.image"}},
		{Image: "registry.example/team/train:1.4", From: []string{"site manifest monitor.yaml: CronJob models/retrain container train"}},
		{Image: "registry.example/team/ui:3.1", From: []string{"site manifest extra/web.yml: Deployment models/web container ui"}},
	}
	if got := set.Images(); !reflect.DeepEqual(got, wantImages) {
		t.Errorf("images:\ngot  %q\nwant %q", got, wantImages)
	}
	wantSkipped := []Skipped{
		{"testdata/good/extra/.hidden", "its name starts with a dot: K3s skips such files, and the build enters no such directory (.git, an editor's)"},
		{"testdata/good/extra/README.md", "not named *.yaml, *.yml or *.json: K3s does not apply it"},
		{"testdata/good/extra/old.yaml", "old.yaml.skip is beside it: K3s skips it"},
		{"testdata/good/extra/old.yaml.skip", "K3s's marker to skip old.yaml"},
	}
	if got := set.Skipped(); !reflect.DeepEqual(got, wantSkipped) {
		t.Errorf("skipped:\ngot  %q\nwant %q", got, wantSkipped)
	}
	if got, want := set.Names(), []string{"monitor", "predictor", "rbac", "web"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	if w := set.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	for _, f := range set.Files() {
		src, err := os.ReadFile(f.Source)
		if err != nil {
			t.Fatal(err)
		}
		if string(src) != string(f.Data) {
			t.Errorf("%s: placed bytes differ from the source", f.Name)
		}
	}
}

// TestReadWarnings covers what passes with a warning: a file of nothing
// but comments, a Secret (the OS image is public on the PXE network), and a HelmChart carrying its chart inline (kept: it needs
// no network; warned: its images are not found) with a jobImage.
func TestReadWarnings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty.yaml", "# nothing yet\n---\n")
	writeFile(t, dir, "creds.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: models}\nstringData: {password: hunter2}\n")
	writeFile(t, dir, "inline.yaml", "apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: tool\n  namespace: kube-system\nspec:\n  chart: tool\n  chartContent: H4sIAAAAAAAA\n  jobImage: registry.example/klipper-helm:v0.9\n")
	set, err := Read([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DIR/creds.yaml:5: Secret models/db is baked into the OS image, which the PXE bundle serves to anyone on the boot network: keep secret values out of manifests (seal them with the platform's sealed-secrets, or create them on the cluster)",
		"DIR/empty.yaml: holds no Kubernetes object: K3s applies nothing from it",
		"DIR/inline.yaml:1: HelmChart tool carries its chart inline (spec.chartContent): the build does not render it, so the images it starts are not found; list them under images: in site.yaml, or bake the chart with charts:",
	}
	var got []string
	for _, w := range set.Warnings() {
		got = append(got, strings.ReplaceAll(w, dir, "DIR"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\ngot  %q\nwant %q", got, want)
	}
	wantImages := []charts.ImageUse{{Image: "registry.example/klipper-helm:v0.9", From: []string{"site manifest " + lastElem(dir) + "/inline.yaml: HelmChart kube-system/tool field spec.jobImage"}}}
	if got := set.Images(); !reflect.DeepEqual(got, wantImages) {
		t.Errorf("images:\ngot  %q\nwant %q", got, wantImages)
	}
}

func lastElem(p string) string { return p[strings.LastIndex(p, "/")+1:] }
