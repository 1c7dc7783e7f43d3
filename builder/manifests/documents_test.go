package manifests

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"

// TestDocumentRefusals checks every refusal of a document's content, with
// its exact FILE:LINE message.
func TestDocumentRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{{
		name:    "list document",
		content: "- a\n- b\n",
		want:    []string{"DIR/m.yaml:1: not a Kubernetes object but a list: each document must be a mapping with apiVersion, kind and metadata.name"},
	}, {
		name:    "text second document",
		content: configMap + "---\n# a note\njust some text\n",
		want:    []string{"DIR/m.yaml:7: not a Kubernetes object but a string: each document must be a mapping with apiVersion, kind and metadata.name"},
	}, {
		name:    "null document",
		content: "---\n~\n",
		want:    []string{"DIR/m.yaml:2: not a Kubernetes object but null: each document must be a mapping with apiVersion, kind and metadata.name"},
	}, {
		name:    "not YAML",
		content: configMap + "data:\n  a: [1, 2\n  b: c\n",
		want:    []string{"DIR/m.yaml:6: not YAML that K3s can read: did not find expected ',' or ']'"},
	}, {
		name:    "not YAML without a line from K3s's parser",
		content: "apiVersion: v1\nkind: ConfigMap\nmetadata: name: x\n",
		want:    []string{"DIR/m.yaml:3: not YAML that K3s can read: mapping values are not allowed in this context"},
	}, {
		name:    "flow mapping taken for JSON",
		content: "\n{apiVersion: v1, kind: ConfigMap,\n metadata: {name: a}}\n",
		want:    []string{"DIR/m.yaml:2: K3s reads a part starting with { as JSON, and this is not JSON: invalid character 'a' looking for beginning of object key string (write a YAML mapping in block style)"},
	}, {
		name:    "missing kind and name",
		content: "apiVersion: v1\nmetadata:\n  labels: {a: b}\n",
		want: []string{
			"DIR/m.yaml:1: kind: required",
			"DIR/m.yaml:2: metadata.name: required",
		},
	}, {
		name:    "missing apiVersion and metadata",
		content: "# a config map\nkind: ConfigMap\ndata: {a: b}\n",
		want: []string{
			"DIR/m.yaml:2: apiVersion: required",
			"DIR/m.yaml:2: metadata: required, a mapping with a name",
		},
	}, {
		name:    "metadata not a mapping",
		content: "apiVersion: v1\nkind: ConfigMap\nmetadata: web\n",
		want:    []string{"DIR/m.yaml:3: metadata: a string, not a mapping with a name"},
	}, {
		name:    "bad names",
		content: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: Web_1\n  namespace: team.a\n",
		want: []string{
			"DIR/m.yaml:4: metadata.name: \"Web_1\" is not " + subdomainRule + ", as Kubernetes wants for a Deployment",
			"DIR/m.yaml:5: metadata.namespace: \"team.a\" is not " + labelRule,
		},
	}, {
		name:    "service name with a dot",
		content: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web.a\n",
		want:    []string{"DIR/m.yaml:4: metadata.name: \"web.a\" is not " + labelRule + ", as Kubernetes wants for a Service"},
	}, {
		name:    "RBAC name with a slash",
		content: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: team/reader\n",
		want:    []string{"DIR/m.yaml:4: metadata.name: \"team/reader\" is not " + segmentRule + ", as Kubernetes wants for a ClusterRole"},
	}, {
		name:    "YAML 1.1 boolean and a number",
		content: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yes\n  namespace: 12\n",
		want: []string{
			"DIR/m.yaml:4: metadata.name: a boolean (YAML 1.1, which K3s reads, takes yes, no, on and off for booleans), not a string: quote it",
			"DIR/m.yaml:5: metadata.namespace: a number, not a string: quote it",
		},
	}, {
		name:    "bad separator",
		content: configMap + "--- apiVersion: v1\n" + configMap,
		want:    []string{"DIR/m.yaml:5: \"--- apiVersion: v1\" is not a document separator: K3s's YAML reader takes a line starting with --- for one and allows only a comment after it, failing the whole file"},
	}, {
		name:    "second document after an end marker",
		content: configMap + "...\n" + configMap,
		want:    []string{"DIR/m.yaml:5: a second YAML document after the end marker \"...\": K3s reads only the first document of each part; separate documents with ---"},
	}, {
		name:    "custom resource with items",
		content: "apiVersion: example.com/v1\nkind: Basket\nmetadata:\n  name: b\nitems:\n  - apple\n",
		want:    []string{"DIR/m.yaml:5: K3s cannot decode this list: json: cannot unmarshal string into Go value of type map[string]interface {}"},
	}, {
		name:    "custom resource with object items",
		content: "apiVersion: example.com/v1\nkind: Basket\nmetadata:\n  name: b\nitems:\n  - {name: apple}\n",
		want:    []string{"DIR/m.yaml:5: a Basket with a top-level items field: K3s takes any document with items for a list and applies its items instead of the Basket itself"},
	}, {
		name:    "list without a kind",
		content: "apiVersion: v1\nitems: []\n",
		want:    []string{"DIR/m.yaml:1: kind: required (a List's kind, such as List or ConfigMapList)"},
	}, {
		name:    "list items",
		content: "apiVersion: v1\nkind: List\nitems:\n  - " + strings.ReplaceAll(configMap, "\n", "\n    ") + "\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {}\n",
		want:    []string{"DIR/m.yaml:11: items[1].metadata.name: required"},
	}, {
		name:    "remote HelmChart by repo",
		content: "apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: grafana\n  namespace: kube-system\nspec:\n  repo: https://charts.example/\n  chart: grafana\n",
		want:    []string{"DIR/m.yaml:7: spec.repo: HelmChart grafana takes its chart from the repository \"https://charts.example/\": K3s's helm-controller would fetch it when the cluster starts, and the site has no network; list the chart under charts: in site.yaml instead, which bakes it into the image"},
	}, {
		name:    "remote HelmChart by URL",
		content: "apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: tool\nspec:\n  chart: oci://registry.example/charts/tool\n",
		want:    []string{"DIR/m.yaml:6: spec.chart: HelmChart tool names its chart \"oci://registry.example/charts/tool\": K3s's helm-controller would fetch it when the cluster starts, and the site has no network; list the chart under charts: in site.yaml instead, which bakes it into the image"},
	}, {
		name:    "kustomization",
		content: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: all\nresources: [a.yaml]\n",
		want:    []string{"DIR/m.yaml:2: kind: a Kustomization: K3s applies manifests as they are and runs no kustomize; render it (kubectl kustomize DIR) into a file and list that"},
	}, {
		name:    "CRLF line ends",
		content: "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: Bad\r\n",
		want:    []string{"DIR/m.yaml:4: metadata.name: \"Bad\" is not " + subdomainRule + ", as Kubernetes wants for a ConfigMap"},
	}, {
		name:    "aliases stay unexpanded for lines",
		content: "apiVersion: v1\nkind: ConfigMap\nmeta: &m\n  name: Bad\nmetadata: *m\n",
		want:    []string{"DIR/m.yaml:4: metadata.name: \"Bad\" is not " + subdomainRule + ", as Kubernetes wants for a ConfigMap"},
	}, {
		name:    "too many problems",
		content: strings.Repeat("---\n- a\n", MaxErrors+3),
		want: append(repeatLines(MaxErrors, func(i int) string {
			return fmt.Sprintf("DIR/m.yaml:%d: not a Kubernetes object but a list: each document must be a mapping with apiVersion, kind and metadata.name", 2*i+2)
		}), "and 3 more problems with the site's manifests"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "m.yaml", tc.content)
			set, err := Read([]string{dir + "/m.yaml"})
			if got := errorLines(err, dir); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, tc.want)
			}
			if set != nil {
				t.Errorf("a set as well as an error")
			}
		})
	}
}

func repeatLines(n int, line func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = line(i)
	}
	return out
}
