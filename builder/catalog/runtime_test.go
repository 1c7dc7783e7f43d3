package catalog

import (
	"strings"
	"testing"
	"testing/fstest"
)

// withImages is validEntry with its images section (lines 7-9) replaced.
func withImages(images string) fstest.MapFS {
	entry := strings.Replace(validEntry, "images:\n  - ref: quay.io/example/worker:2.0\n    why: the app starts workers\n", images, 1)
	return fstest.MapFS{"catalog/web.yaml": {Data: []byte(entry)}}
}

func TestLoadImagesRules(t *testing.T) {
	cat, err := Load(withImages(`images:
  - from: {values: "singleuser.profileList[*].kubespawner_override.image", optional: true}
    why: profiles
  - from:
      workload: Deployment/argo-workflows-workflow-controller
      container: controller
      arg: --executor-image
    why: executor
  - from: {workload: Deployment/seldon-controller-manager, container: manager, env: EXECUTOR_CONTAINER_IMAGE_AND_VERSION}
    why: executor
  - from: {configMap: seldon-config, key: predictor_servers, path: MLFLOW_SERVER.protocols.v2, when: seldon.enabled}
    why: model server
  - ref: quay.io/example/worker:2.0
    why: started by a script the chart does not render
`), "catalog")
	if err != nil {
		t.Fatal(err)
	}
	web, _ := cat.Component("web")
	var got []string
	for _, img := range web.Images {
		if img.From == nil {
			got = append(got, "ref "+img.Ref)
			continue
		}
		got = append(got, img.From.Kind()+": "+img.From.String())
	}
	want := []string{
		"values: values singleuser.profileList[*].kubespawner_override.image (optional)",
		"arg: Deployment/argo-workflows-workflow-controller container controller arg --executor-image",
		"env: Deployment/seldon-controller-manager container manager env EXECUTOR_CONTAINER_IMAGE_AND_VERSION",
		"configMap: ConfigMap seldon-config key predictor_servers path MLFLOW_SERVER.protocols.v2 when seldon.enabled",
		"ref quay.io/example/worker:2.0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules\n got %q\nwant %q", got, want)
	}
	if lines := [3]int{web.Images[0].Line, web.Images[1].Line, web.Images[1].From.Line}; lines != [3]int{8, 10, 11} {
		t.Errorf("lines of entry 0, entry 1 and its from: %v, want [8 10 11]", lines)
	}
}

func TestLoadImagesRuleErrors(t *testing.T) {
	const head = "catalog/web.yaml: "
	tests := []struct {
		name, images, want string
	}{
		{
			name:   "unknown key in from, with its line",
			images: "images:\n  - from: {values: a.b, valeus: a.c}\n    why: x\n",
			want:   head + "yaml: unmarshal errors:\n  line 8: field valeus not found in from (want values, workload, container, arg, env, configMap, key, path, optional, when)",
		},
		{
			name:   "unknown key in an entry",
			images: "images:\n  - frm: {values: a.b}\n    why: x\n",
			want:   head + "yaml: unmarshal errors:\n  line 8: field frm not found in images entry (want from, ref, why)",
		},
		{
			name:   "from is not a map",
			images: "images:\n  - from: singleuser.image\n    why: x\n",
			want:   head + "yaml: unmarshal errors:\n  line 8: from must be a map",
		},
		{
			name:   "neither from nor ref",
			images: "images:\n  - why: x\n",
			want:   head + "line 8: images[0]: set from (where the image is named) or ref (a fixed image)",
		},
		{
			name:   "both from and ref",
			images: "images:\n  - ref: quay.io/x/y:1\n    from: {values: a}\n    why: x\n",
			want:   head + "line 8: images[0]: set from or ref, not both: the image from says where to find needs no fixed ref",
		},
		{
			name:   "no why",
			images: "images:\n  - from: {values: a}\n",
			want:   head + "line 8: images[0].why: required: say what starts the image (and, with ref, why it has no place in the values or the render)",
		},
		{
			name:   "two places",
			images: "images:\n  - why: x\n    from:\n      values: a\n      configMap: b\n",
			want:   head + "line 10: images[0].from: set exactly one of values, arg, env or configMap",
		},
		{
			name:   "bad paths",
			images: "images:\n  - from: {values: a..b, when: \"c[0]\"}\n    why: x\n",
			want: head + `line 8: images[0].from.values: "a..b": an empty key (want key.key, key[*] or *)` + "\n" +
				`line 8: images[0].from.when: "c[0]": "c[0]" is not a key, key[*] or *`,
		},
		{
			name:   "arg rule without its workload, with a value",
			images: "images:\n  - from: {arg: \"--executor-image=x\", key: k}\n    why: x\n",
			want: head + "line 8: images[0].from.key: not used with arg\n" +
				`line 8: images[0].from.workload: "" is not Kind/name (Deployment/x, StatefulSet/x, DaemonSet/x, Job/x, CronJob/x, Pod/x)` + "\n" +
				`line 8: images[0].from.container: "" is not a container name` + "\n" +
				`line 8: images[0].from.arg: "--executor-image=x" is not a flag like --executor-image (no value: the value is the image)`,
		},
		{
			name:   "env rule with a bad name",
			images: "images:\n  - from: {workload: Deployment/x, container: c, env: \"A B\"}\n    why: x\n",
			want:   head + `line 8: images[0].from.env: "A B" is not an environment variable name`,
		},
		{
			name:   "configMap rule without a key",
			images: "images:\n  - from: {configMap: seldon-config, container: c}\n    why: x\n",
			want: head + "line 8: images[0].from.container: not used with configMap\n" +
				"line 8: images[0].from.key: required with configMap: the data key holding the image",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(withImages(tt.images), "catalog")
			if err == nil {
				t.Fatalf("Load succeeded, want\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}
