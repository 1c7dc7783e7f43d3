package platform

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// derivedLines runs RuntimeImages and returns "ref <- from" lines.
func derivedLines(t *testing.T, entry *catalog.Component, values map[string]any) ([]string, error) {
	t.Helper()
	r, vals := renderOps(t, values)
	imgs, err := RuntimeImages(entry, vals, r)
	var out []string
	for _, img := range imgs {
		out = append(out, img.Ref+" <- "+img.From)
	}
	return out, err
}

func TestRuntimeImagesEachRuleForm(t *testing.T) {
	tests := []struct {
		name   string
		rule   *catalog.Source
		values map[string]any
		want   []string
	}{
		{
			name: "arg written --flag value, tag defaulted by the template",
			rule: &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Arg: "--executor-image"},
			want: []string{"quay.io/example/executor:1.0 <- catalog ops: Deployment ops/ctl container controller arg --executor-image"},
		},
		{
			name:   "arg written --flag value, overridden",
			rule:   &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Arg: "--executor-image"},
			values: map[string]any{"executor": map[string]any{"registry": "registry.example", "tag": "2.0"}},
			want:   []string{"registry.example/example/executor:2.0 <- catalog ops: Deployment ops/ctl container controller arg --executor-image"},
		},
		{
			name:   "arg written --flag=value",
			rule:   &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Arg: "--sidecar-image"},
			values: map[string]any{"sidecar": "registry.example/sidecar@sha256:" + strings.Repeat("a", 64)},
			want:   []string{"registry.example/sidecar@sha256:" + strings.Repeat("a", 64) + " <- catalog ops: Deployment ops/ctl container controller arg --sidecar-image"},
		},
		{
			name:   "env",
			rule:   &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Env: "WORKER_IMAGE"},
			values: map[string]any{"worker": "quay.io/example/worker:1.1"},
			want:   []string{"quay.io/example/worker:1.1 <- catalog ops: Deployment ops/ctl container controller env WORKER_IMAGE"},
		},
		{
			name: "ConfigMap value",
			rule: &catalog.Source{ConfigMap: "servers", Key: "initializer"},
			want: []string{"quay.io/example/init:1.0 <- catalog ops: ConfigMap ops/servers key initializer"},
		},
		{
			name: "ConfigMap JSON, {image, defaultImageVersion}",
			rule: &catalog.Source{ConfigMap: "servers", Key: "predictor_servers", Path: "SKLEARN_SERVER.protocols.v2"},
			values: map[string]any{"servers": map[string]any{"SKLEARN_SERVER": map[string]any{"protocols": map[string]any{
				"v2": map[string]any{"defaultImageVersion": "1.4.0-sklearn"}}}}},
			want: []string{"example/mlserver:1.4.0-sklearn <- catalog ops: ConfigMap ops/servers key predictor_servers path SKLEARN_SERVER.protocols.v2"},
		},
		{
			name: "ConfigMap JSON, every protocol",
			rule: &catalog.Source{ConfigMap: "servers", Key: "predictor_servers", Path: "*.protocols.*"},
			want: []string{
				"example/sklearnserver:1.18.2 <- catalog ops: ConfigMap ops/servers key predictor_servers path SKLEARN_SERVER.protocols.seldon",
				"example/mlserver:1.3.5-sklearn <- catalog ops: ConfigMap ops/servers key predictor_servers path SKLEARN_SERVER.protocols.v2",
			},
		},
		{
			name:   "ConfigMap YAML",
			rule:   &catalog.Source{ConfigMap: "servers", Key: "settings.yaml", Path: "executor.image"},
			values: map[string]any{"settingsImage": "quay.io/example/settings:2.0"},
			want:   []string{"quay.io/example/settings:2.0 <- catalog ops: ConfigMap ops/servers key settings.yaml path executor.image"},
		},
		{
			name:   "values, {name, tag}",
			rule:   &catalog.Source{Values: "notebook"},
			values: map[string]any{"notebook": map[string]any{"name": "registry.example/team/notebook", "tag": 1.2}},
			want:   []string{"registry.example/team/notebook:1.2 <- catalog ops: values notebook"},
		},
		{
			name: "values, {registry, repository, tag, digest}",
			rule: &catalog.Source{Values: "notebook"},
			values: map[string]any{"notebook": map[string]any{"name": nil, "registry": "registry.example", "repository": "team/notebook",
				"tag": "1.2", "digest": "sha256:" + strings.Repeat("b", 64)}},
			want: []string{"registry.example/team/notebook:1.2@sha256:" + strings.Repeat("b", 64) + " <- catalog ops: values notebook"},
		},
		{
			name: "values, a list wildcard passes over items without the image",
			rule: &catalog.Source{Values: "profiles[*].kubespawner_override.image", Optional: true},
			values: map[string]any{"profiles": []any{
				map[string]any{"display_name": "default"},
				map[string]any{"kubespawner_override": map[string]any{"image": "quay.io/example/gpu:1"}},
				map[string]any{"kubespawner_override": map[string]any{"image": "quay.io/example/cpu:1"}},
			}},
			want: []string{
				"quay.io/example/gpu:1 <- catalog ops: values profiles[1].kubespawner_override.image",
				"quay.io/example/cpu:1 <- catalog ops: values profiles[2].kubespawner_override.image",
			},
		},
		{
			name: "values, optional and absent",
			rule: &catalog.Source{Values: "profiles[*].kubespawner_override.image", Optional: true},
		},
		{
			name: "when false",
			rule: &catalog.Source{Values: "networkTools", When: "blockMetadata"},
		},
		{
			name:   "when true",
			rule:   &catalog.Source{Values: "networkTools", When: "blockMetadata"},
			values: map[string]any{"blockMetadata": true},
			want:   []string{"quay.io/example/network-tools:4.4.0 <- catalog ops: values networkTools"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := derivedLines(t, opsEntry(tt.rule), tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("derived\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRuntimeImagesFixedRef(t *testing.T) {
	entry := &catalog.Component{Name: "db", File: "c/db.yaml", Images: []catalog.Image{{Ref: "quay.io/example/backup:3.1", Why: "backup jobs", Line: 7}}}
	got, err := RuntimeImages(entry, nil, nil)
	if err != nil || len(got) != 1 || got[0] != (RuntimeImage{Ref: "quay.io/example/backup:3.1", From: "catalog db", Why: "backup jobs"}) {
		t.Errorf("RuntimeImages = %+v, %v", got, err)
	}
}

func TestRuntimeImagesFailures(t *testing.T) {
	const at = "c/ops.yaml:10: images[0] (from "
	tests := []struct {
		name   string
		rule   *catalog.Source
		values map[string]any
		want   string
	}{
		{
			name: "values path absent",
			rule: &catalog.Source{Values: "notebook.image"},
			want: at + "values notebook.image): notebook.image: notebook has no key image (it has keys name, tag)",
		},
		{
			name: "values map without a tag: the chart's template defaults it, so the rule must read the render",
			rule: &catalog.Source{Values: "executor"},
			want: at + `values executor): values executor: "quay.io/example/executor" has no tag or digest: pin one`,
		},
		{
			name:   "malformed reference, even when optional",
			rule:   &catalog.Source{Values: "notebook", Optional: true},
			values: map[string]any{"notebook": map[string]any{"tag": "latest"}},
			want:   at + `values notebook (optional)): values notebook: "quay.io/example/notebook:latest": the latest tag moves; pin a version`,
		},
		{
			name:   "map naming the image twice",
			rule:   &catalog.Source{Values: "notebook"},
			values: map[string]any{"notebook": map[string]any{"repository": "quay.io/example/other"}},
			want:   at + "values notebook): values notebook: both repository and name are set: which is the image?",
		},
		{
			name:   "not an image at all",
			rule:   &catalog.Source{Values: "blockMetadata"},
			values: map[string]any{"blockMetadata": true},
			want:   at + "values blockMetadata): values blockMetadata: the boolean true, not an image reference or a map of its parts",
		},
		{
			name: "empty value",
			rule: &catalog.Source{Values: "executor.tag"},
			want: at + "values executor.tag): values executor.tag is empty",
		},
		{
			name: "no such workload",
			rule: &catalog.Source{Workload: "Deployment/controller", Container: "controller", Arg: "--executor-image"},
			want: at + "Deployment/controller container controller arg --executor-image): the render has no Deployment/controller (its workloads: Deployment/ctl)",
		},
		{
			name: "no such container",
			rule: &catalog.Source{Workload: "Deployment/ctl", Container: "manager", Arg: "--executor-image"},
			want: at + "Deployment/ctl container manager arg --executor-image): Deployment/ctl has no container manager (it has controller)",
		},
		{
			name: "no such arg",
			rule: &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Arg: "--executor"},
			want: at + `Deployment/ctl container controller arg --executor): Deployment ops/ctl container controller has no arg --executor (its command line is ["controller" "--executor-image" "quay.io/example/executor:1.0" "--sidecar-image=quay.io/example/sidecar:1.0" "--image-pull-policy=IfNotPresent" "--skip-image-check" "--verbose"])`,
		},
		{
			name: "arg whose value is not an image",
			rule: &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Arg: "--image-pull-policy"},
			want: at + `Deployment/ctl container controller arg --image-pull-policy): Deployment ops/ctl container controller arg --image-pull-policy: "IfNotPresent": could not parse reference: IfNotPresent`,
		},
		{
			name: "env set from a Secret",
			rule: &catalog.Source{Workload: "Deployment/ctl", Container: "controller", Env: "TOKEN_IMAGE"},
			want: at + "Deployment/ctl container controller env TOKEN_IMAGE): Deployment ops/ctl container controller has no env TOKEN_IMAGE (its environment has IMAGE_PULL_POLICY, TOKEN_IMAGE (valueFrom), WORKER_IMAGE)",
		},
		{
			name: "no such ConfigMap",
			rule: &catalog.Source{ConfigMap: "seldon-config", Key: "predictor_servers"},
			want: at + "ConfigMap seldon-config key predictor_servers): the render has no ConfigMap seldon-config (its ConfigMaps: servers)",
		},
		{
			name: "no such key",
			rule: &catalog.Source{ConfigMap: "servers", Key: "storageInitializer", Path: "image"},
			want: at + "ConfigMap servers key storageInitializer path image): ConfigMap ops/servers has no data key storageInitializer (it has initializer, predictor_servers, settings.yaml)",
		},
		{
			name: "no such path in the ConfigMap's JSON",
			rule: &catalog.Source{ConfigMap: "servers", Key: "predictor_servers", Path: "MLFLOW_SERVER.protocols.v2"},
			want: at + "ConfigMap servers key predictor_servers path MLFLOW_SERVER.protocols.v2): MLFLOW_SERVER.protocols.v2: the document has no key MLFLOW_SERVER (it has keys SKLEARN_SERVER)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := derivedLines(t, opsEntry(tt.rule), tt.values)
			if err == nil {
				t.Fatalf("derived %q, want error\n%s", got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestRuntimeImagesJoinsEveryFailure reports each failing entry with its
// own line, and derives nothing from a failing one.
func TestRuntimeImagesJoinsEveryFailure(t *testing.T) {
	entry := opsEntry(&catalog.Source{Values: "nope"}, &catalog.Source{Values: "sidecar"}, &catalog.Source{Values: "nada"})
	_, err := derivedLines(t, entry, nil)
	var lines []string
	for _, l := range strings.Split(fmt.Sprint(err), "\n") {
		lines = append(lines, strings.SplitN(l, " (from", 2)[0])
	}
	if want := "c/ops.yaml:10: images[0]\nc/ops.yaml:14: images[2]"; strings.Join(lines, "\n") != want {
		t.Errorf("error %v\nwant entries\n%s", err, want)
	}
}
