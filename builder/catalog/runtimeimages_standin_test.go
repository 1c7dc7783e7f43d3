package catalog_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// The charts of jupyterhub (zero-to-jupyterhub-k8s) and seldon-core
// cannot be had here: the Go module proxy refuses both repositories at
// the catalog's versions (403 for github.com/jupyterhub/zero-to-jupyterhub-k8s@4.4.0
// and github.com/seldonio/seldon-core@v1.18.2). Their run-time images are
// checked against stand-ins written after the upstream files named below.

// z2jhDefaults is a test double: the defaults of zero-to-jupyterhub-k8s
// 4.4.0's jupyterhub/values.yaml (tag 4.4.0) under the paths the catalog's
// rules read. In git the tags read "set-by-chartpress"; chartpress sets
// them to the chart's version when it publishes the chart.
func z2jhDefaults() map[string]any {
	return map[string]any{
		"hub": map[string]any{"config": map[string]any{"JupyterHub": map[string]any{"admin_access": true}}},
		"singleuser": map[string]any{
			"networkTools":    map[string]any{"image": map[string]any{"name": "quay.io/jupyterhub/k8s-network-tools", "tag": "4.4.0", "pullSecrets": []any{}}},
			"cloudMetadata":   map[string]any{"blockWithIptables": true, "ip": "169.254.169.254"},
			"initContainers":  []any{},
			"extraContainers": []any{},
			"image":           map[string]any{"name": "quay.io/jupyterhub/k8s-singleuser-sample", "tag": "4.4.0", "pullSecrets": []any{}},
			"profileList":     []any{},
		},
	}
}

// TestJupyterHubNotebookImagesFollowValues derives jupyterhub's run-time
// images from its values (the hub hands the chart's values to KubeSpawner:
// files/hub/jupyterhub_config.py, 4.4.0): the notebook image, a
// profileList's images, the network-tools init container when the cloud
// metadata block is on.
func TestJupyterHubNotebookImagesFollowValues(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cat.Component("jupyterhub")
	derive := func(t *testing.T, over map[string]any) ([]string, error) {
		t.Helper()
		vals := platform.MergeValues(z2jhDefaults(), platform.MergeValues(c.Values, over))
		imgs, err := platform.RuntimeImages(c, vals, nil)
		var refs []string
		for _, img := range imgs {
			refs = append(refs, img.Ref)
		}
		return refs, err
	}
	profiles := []any{
		map[string]any{"display_name": "SciPy", "default": true},
		map[string]any{"display_name": "PyTorch", "kubespawner_override": map[string]any{"image": "quay.io/jupyter/pytorch-notebook:cuda12-2026-07-28"}},
		map[string]any{"display_name": "Pick one", "profile_options": map[string]any{"image": map[string]any{
			"display_name": "Image",
			"choices": map[string]any{
				"r":  map[string]any{"display_name": "R", "kubespawner_override": map[string]any{"image": "quay.io/jupyter/r-notebook:2026-07-28"}},
				"tf": map[string]any{"display_name": "TensorFlow", "kubespawner_override": map[string]any{"image": "quay.io/jupyter/tensorflow-notebook:2026-07-28"}},
			},
		}}},
	}
	tests := []struct {
		name string
		over map[string]any
		want []string
	}{
		{name: "catalog values", want: []string{"quay.io/jupyter/scipy-notebook:2026-07-28"}},
		{
			name: "singleuser.image",
			over: map[string]any{"singleuser": map[string]any{"image": map[string]any{"name": "registry.example/team/notebook", "tag": "1.2"}}},
			want: []string{"registry.example/team/notebook:1.2"},
		},
		{
			name: "profileList",
			over: map[string]any{"singleuser": map[string]any{"profileList": profiles}},
			want: []string{"quay.io/jupyter/scipy-notebook:2026-07-28", "quay.io/jupyter/pytorch-notebook:cuda12-2026-07-28",
				"quay.io/jupyter/r-notebook:2026-07-28", "quay.io/jupyter/tensorflow-notebook:2026-07-28"},
		},
		{
			name: "sidecar, and KubeSpawner's image set directly",
			over: map[string]any{
				"singleuser": map[string]any{"extraContainers": []any{map[string]any{"name": "proxy", "image": "registry.example/auth-proxy:3"}}},
				"hub":        map[string]any{"config": map[string]any{"KubeSpawner": map[string]any{"image": "registry.example/lab:7"}}},
			},
			want: []string{"quay.io/jupyter/scipy-notebook:2026-07-28", "registry.example/auth-proxy:3", "registry.example/lab:7"},
		},
		{
			name: "cloud metadata blocked",
			over: map[string]any{"singleuser": map[string]any{"cloudMetadata": map[string]any{"blockWithIptables": true}}},
			want: []string{"quay.io/jupyter/scipy-notebook:2026-07-28", "quay.io/jupyterhub/k8s-network-tools:4.4.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := derive(t, tt.over)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("run-time images\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	t.Run("unpinned profile image", func(t *testing.T) {
		bad := slices.Clone(profiles[:2])
		bad[1] = map[string]any{"kubespawner_override": map[string]any{"image": "quay.io/jupyter/pytorch-notebook"}}
		_, err := derive(t, map[string]any{"singleuser": map[string]any{"profileList": bad}})
		want := fmt.Sprintf(`catalog/jupyterhub.yaml:%d: images[1] (from values singleuser.profileList[*].kubespawner_override.image (optional)): `+
			`values singleuser.profileList[1].kubespawner_override.image: "quay.io/jupyter/pytorch-notebook" has no tag or digest: pin one`, c.Images[1].Line)
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
}

// seldonStandInChart is a test double of seldon-core-operator 1.18.2: the
// two templates the catalog's rules read, written after
// helm-charts/seldon-core-operator/templates/configmap_seldon-config.yaml
// and deployment_seldon-controller-manager.yaml (SeldonIO/seldon-core tag
// v1.18.2, commit 5e8a1698726ecad989df37ba44e4a304f9f32112: the ConfigMap's
// data are the values' toJson, the executor image an environment
// variable "registry/repository:tag"; the operator's RELATED_IMAGE_*
// variables are rendered empty), with the defaults of its values.yaml
// those templates use.
func seldonStandInChart(t *testing.T) *chart.Chart {
	t.Helper()
	tpl := func(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }
	values := map[string]any{
		"image":    map[string]any{"pullPolicy": "IfNotPresent", "registry": "docker.io", "repository": "seldonio/seldon-core-operator", "tag": "1.18.2"},
		"executor": map[string]any{"image": map[string]any{"pullPolicy": "IfNotPresent", "registry": "docker.io", "repository": "seldonio/seldon-core-executor", "tag": "1.18.2"}},
		"storageInitializer": map[string]any{"cpuLimit": "1", "cpuRequest": "100m", "image": "seldonio/rclone-storage-initializer:1.18.2",
			"memoryLimit": "1Gi", "memoryRequest": "100Mi"},
		"predictor_servers": map[string]any{
			"MLFLOW_SERVER": map[string]any{"protocols": map[string]any{
				"seldon": map[string]any{"defaultImageVersion": "1.18.2", "image": "seldonio/mlflowserver"},
				"v2":     map[string]any{"defaultImageVersion": "1.3.5-mlflow", "image": "seldonio/mlserver"},
			}},
			"SKLEARN_SERVER": map[string]any{"protocols": map[string]any{
				"seldon": map[string]any{"defaultImageVersion": "1.18.2", "image": "seldonio/sklearnserver"},
				"v2":     map[string]any{"defaultImageVersion": "1.3.5-sklearn", "image": "seldonio/mlserver"},
			}},
			"TRITON_SERVER": map[string]any{"protocols": map[string]any{
				"v2": map[string]any{"defaultImageVersion": "21.08-py3", "image": "nvcr.io/nvidia/tritonserver"},
			}},
		},
		"explainer":   map[string]any{"image": "seldonio/alibiexplainer:1.18.2", "image_v2": "seldonio/mlserver:1.3.5-alibi-explain"},
		"credentials": map[string]any{"s3": map[string]any{"s3AccessKeyIDName": "awsAccessKeyID", "s3SecretAccessKeyName": "awsSecretAccessKey"}},
	}
	raw, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v1", Name: "seldon-core-operator", Version: "1.18.2", AppVersion: "1.18.2"},
		Values:   values,
		Raw:      []*chart.File{tpl("values.yaml", string(raw))},
		Templates: []*chart.File{
			tpl("templates/configmap_seldon-config.yaml", `apiVersion: v1
data:
  credentials: '{{ .Values.credentials | toJson }}'
  explainer: '{{ .Values.explainer | toJson }}'
  predictor_servers: '{{ .Values.predictor_servers | toJson }}'
  storageInitializer: '{{ .Values.storageInitializer | toJson }}'
kind: ConfigMap
metadata:
  name: seldon-config
  namespace: '{{ .Release.Namespace }}'
`),
			tpl("templates/deployment_seldon-controller-manager.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: seldon-controller-manager
  namespace: '{{ .Release.Namespace }}'
spec:
  replicas: 1
  template:
    spec:
      containers:
      - args:
        - --enable-leader-election
        - --webhook-port=4443
        env:
        - name: RELATED_IMAGE_EXECUTOR
          value: ''
        - name: RELATED_IMAGE_STORAGE_INITIALIZER
          value: ''
        - name: EXECUTOR_CONTAINER_IMAGE_AND_VERSION
          value: '{{ .Values.executor.image.registry }}/{{ .Values.executor.image.repository }}:{{ .Values.executor.image.tag }}'
        - name: EXECUTOR_CONTAINER_IMAGE_PULL_POLICY
          value: '{{ .Values.executor.image.pullPolicy }}'
        image: '{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}'
        imagePullPolicy: '{{ .Values.image.pullPolicy }}'
        name: manager
`),
		},
	}
}

// TestSeldonRuntimeImagesFollowValues resolves seldon-core from the
// stand-in chart as a build does (platform.Resolve from a chart repository
// on 127.0.0.1): the executor, storage initializer and prepackaged model
// servers are derived from the render, follow a site's overrides, and no
// lookalike (an empty RELATED_IMAGE_*, the pull policy) fails the build.
func TestSeldonRuntimeImagesFollowValues(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	baked := func(t *testing.T, values site.Values) map[string]bool {
		t.Helper()
		repo := testrepo.ChartRepo(t, seldonStandInChart(t))
		s := &site.Site{K3s: site.K3s{Version: catalog.TargetKubeVersion}, Platform: site.Platform{"seldon-core": {Values: values}},
			Mirrors: site.Mirrors{Charts: map[string]string{"seldon-core": repo.URL}}}
		plan, err := resolvePlan(t, cat, s)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, n := range plan.Images {
			for _, f := range n.From {
				if strings.HasPrefix(f, "catalog seldon-core: ") {
					out[catalog.CanonicalImage(n.Ref)] = true
				}
			}
		}
		return out
	}
	// The catalog's values derive what it listed as constants before.
	want := []string{
		"docker.io/seldonio/seldon-core-executor:1.18.2",
		"docker.io/seldonio/rclone-storage-initializer:1.18.2",
		"docker.io/seldonio/mlserver:1.3.5-mlflow",
		"docker.io/seldonio/mlserver:1.3.5-sklearn",
		"docker.io/seldonio/sklearnserver:1.18.2",
	}
	checkBaked(t, "catalog values", baked(t, nil), want, nil)
	over := site.Values{
		"executor":           map[string]any{"image": map[string]any{"registry": "registry.example", "tag": "1.18.3"}},
		"storageInitializer": map[string]any{"image": "registry.example/seldonio/rclone-storage-initializer:1.18.3"},
		"predictor_servers": map[string]any{
			"MLFLOW_SERVER":  map[string]any{"protocols": map[string]any{"v2": map[string]any{"defaultImageVersion": "1.6.1-mlflow"}}},
			"SKLEARN_SERVER": map[string]any{"protocols": map[string]any{"seldon": map[string]any{"image": "registry.example/seldonio/sklearnserver"}}},
		},
	}
	checkBaked(t, "overrides", baked(t, over), []string{
		"registry.example/seldonio/seldon-core-executor:1.18.3",
		"registry.example/seldonio/rclone-storage-initializer:1.18.3",
		"docker.io/seldonio/mlserver:1.6.1-mlflow",
		"docker.io/seldonio/mlserver:1.3.5-sklearn",
		"registry.example/seldonio/sklearnserver:1.18.2",
	}, []string{want[0], want[1], want[2], want[4]})
}

// checkBaked checks that every image in want is baked and none in gone.
func checkBaked(t *testing.T, what string, baked map[string]bool, want, gone []string) {
	t.Helper()
	for _, ref := range want {
		if !baked[catalog.CanonicalImage(ref)] {
			t.Errorf("%s: %s is not baked (baked: %v)", what, ref, baked)
		}
	}
	for _, ref := range gone {
		if baked[catalog.CanonicalImage(ref)] {
			t.Errorf("%s: %s is still baked", what, ref)
		}
	}
}
