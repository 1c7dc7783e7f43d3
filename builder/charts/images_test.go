package charts

import (
	"reflect"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
)

func TestImagesPodSpecs(t *testing.T) {
	ch := &chart.Chart{Metadata: &chart.Metadata{Name: "x", Version: "1.0.0"}}
	r := &Rendered{Chart: "x", Manifests: []Manifest{
		{Template: "x/templates/pod.yaml", Content: `apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: main
    image: example.com/main:1
  ephemeralContainers:
  - name: shell
    image: example.com/shell:1
`},
		{Template: "x/templates/cm.yaml", Content: `apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: ns
data:
  values.yaml: "image: example.com/inside-a-string:1"
`},
		{Template: "x/templates/rs.yaml", Content: `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
  namespace: ns
spec:
  template:
    spec:
      containers:
      - name: c
        image: example.com/main:1
`},
		{Template: "x/templates/list.yaml", Hook: true, Content: `apiVersion: example.com/v1
kind: Thing
metadata:
  name: t
spec:
  steps:
  - image: example.com/step:1
  - image: ""
`},
	}}
	got, err := Images(ch, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []ImageUse{
		{Image: "example.com/main:1", From: []string{"chart x: Pod debug container main", "chart x: ReplicaSet ns/rs container c"}},
		{Image: "example.com/shell:1", From: []string{"chart x: Pod debug ephemeralContainer shell"}},
		{Image: "example.com/step:1", From: []string{"chart x: hook Thing t field spec.steps[0].image"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestImagesAnnotationErrors(t *testing.T) {
	tests := []struct{ annotation, want string }{
		{"- name: a\n", `chart x: annotation helm.sh/images: entry "a" has no image`},
		{"name: a", "chart x: annotation helm.sh/images: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []struct { Name string \"json:\\\"name\\\"\"; Image string \"json:\\\"image\\\"\" }"},
	}
	for _, tt := range tests {
		ch := &chart.Chart{Metadata: &chart.Metadata{Name: "x", Version: "1.0.0", Annotations: map[string]string{ImagesAnnotation: tt.annotation}}}
		_, err := Images(ch, &Rendered{Chart: "x"})
		if err == nil || err.Error() != tt.want {
			t.Errorf("annotation %q: error %v\nwant %s", tt.annotation, err, tt.want)
		}
	}
}

func TestImagesDisabledSubchart(t *testing.T) {
	ch := testChart()
	ch.Metadata.Dependencies = []*chart.Dependency{{Name: "db", Version: "0.1.0", Condition: "db.enabled"}}
	ch.Dependencies()[0].Metadata.Annotations = map[string]string{ImagesAnnotation: "- name: pg\n  image: docker.io/library/postgres:16.4\n"}
	r, err := Render(ch, RenderOptions{ReleaseName: "app", Namespace: "apps", KubeVersion: "v1.33.5",
		Values: map[string]any{"db": map[string]any{"enabled": false}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Images(ch, r)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range got {
		names = append(names, u.Image)
	}
	want := []string{"docker.io/library/busybox:1.36", "docker.io/library/nginx:1.25.4",
		"ghcr.io/example/migrate:2.0", "ghcr.io/example/widget:3.1"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("got  %v\nwant %v", names, want)
	}
}
