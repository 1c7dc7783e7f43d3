package helmcontroller

import (
	"encoding/json"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// helmChartSpec is the part of a baked HelmChart manifest the checks use.
type helmChartSpec struct {
	Spec struct {
		Chart           string `json:"chart"`
		TargetNamespace string `json:"targetNamespace"`
		Timeout         string `json:"timeout"`
		ValuesContent   string `json:"valuesContent"`
	} `json:"spec"`
}

// checkInstallJob checks the Job helm-controller made for the HelmChart
// name against what the build baked for it, and what klipper-helm's entry
// script (k3s-io/klipper-helm, tag v0.11.1-build20260615, file entry) will
// make of it in the pod.
func checkInstallJob(t *testing.T, c *cluster, b baked, name string, job *batchv1.Job) {
	t.Helper()
	comp := b.component(t, name)
	var hc helmChartSpec
	if err := yaml.Unmarshal(b.manifests[name], &hc); err != nil {
		t.Fatalf("HelmChart %s: %v", name, err)
	}
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("job %s: %d containers, want helm-controller's one", job.Name, len(pod.Containers))
	}
	ctr := pod.Containers[0]
	// JobImage is the controller's default (K3s's, which Start passes):
	// the HelmChart must not override it (spec.jobImage).
	if ctr.Image != JobImage {
		t.Errorf("job %s: image %s, want the pinned K3s release's %s", job.Name, ctr.Image, JobImage)
	}
	// A failing install is retried in place for long (chart.go:
	// defaultBackOffLimit 1000, RestartPolicyOnFailure): the Job stays
	// active, and bring-up reports it only at the component's timeout.
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 1000 || pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("job %s: backoffLimit %v, restart policy %s; want helm-controller's 1000, OnFailure", job.Name, job.Spec.BackoffLimit, pod.RestartPolicy)
	}
	ns := comp.Catalog.Namespace
	// chart.go args(): the helm command klipper-helm runs ("$@").
	if want := []string{"install", "--namespace", ns, "--create-namespace"}; !slices.Equal(ctr.Args, want) {
		t.Errorf("job %s: args %q, want %q", job.Name, ctr.Args, want)
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	file := platform.ChartFile(comp)
	// The HelmChart's fields reach the pod unchanged (chart.go job()).
	for k, want := range map[string]string{
		"NAME": name, "CHART": hc.Spec.Chart, "TARGET_NAMESPACE": hc.Spec.TargetNamespace, "TIMEOUT": hc.Spec.Timeout,
		"CHART_NAMESPACE": payload.HelmChartNamespace, "HELM_DRIVER": "secret", "FAILURE_POLICY": "reinstall",
	} {
		if env[k] != want {
			t.Errorf("job %s: env %s=%q, want %q", job.Name, k, env[k], want)
		}
	}
	checkChartURL(t, b, env["CHART"], file)
	checkSpecKept(t, c, name, b.manifests[name])
	checkValues(t, c, job, hc.Spec.ValuesContent, comp.Values)
	if want := "helm-" + name; pod.ServiceAccountName != want {
		t.Errorf("job %s: service account %q, want %q", job.Name, pod.ServiceAccountName, want)
	}
	crb, err := c.core.RbacV1().ClusterRoleBindings().Get(c.ctx, "helm-"+payload.HelmChartNamespace+"-"+name, metav1.GetOptions{})
	if err != nil {
		t.Errorf("job %s: %v", job.Name, err)
	} else if crb.RoleRef.Name != "cluster-admin" || len(crb.Subjects) != 1 || crb.Subjects[0].Name != "helm-"+name {
		t.Errorf("job %s: cluster role binding %s binds %v to %s, want helm-%s to cluster-admin (K3s's jobClusterRole)", job.Name, crb.Name, crb.Subjects, crb.RoleRef.Name, name)
	}
}

// checkSpecKept checks the API server kept every spec field of the baked
// HelmChart as written: the CRD (helm-controller's, which K3s installs)
// prunes a field it does not know, silently, and helm-controller would
// never see it.
func checkSpecKept(t *testing.T, c *cluster, name string, manifest []byte) {
	t.Helper()
	var baked struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(manifest, &baked); err != nil {
		t.Fatalf("HelmChart %s: %v", name, err)
	}
	hc, err := c.dyn.Resource(helmChartResource).Namespace(payload.HelmChartNamespace).Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Errorf("HelmChart %s: %v", name, err)
		return
	}
	// The CRD's defaults (driver, failurePolicy) come on top.
	got, _ := jsonRoundTrip(t, hc.Object)["spec"].(map[string]any)
	for k, v := range baked.Spec {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("HelmChart %s: the API server holds spec.%s %v, the build wrote %v", name, k, got[k], v)
		}
	}
}

// checkChartURL follows the chart URL to the file the build baked:
// klipper-helm replaces %{KUBERNETES_API}% with the kubelet's
// KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT (entry, lines 161-166;
// 10.43.0.1:443 with K3s's default service CIDR), the kubernetes Service
// leads to the K3s server, which serves /static/ from
// <data-dir>/server/static (k3s-io/k3s pkg/server/handlers/router.go
// NewHandler: router.PathPrefix(staticURL).Handler(Static(staticURL,
// filepath.Join(control.DataDir, "static")))), where firstboot copies the
// baked charts (payload.K3sStaticChartsDir).
func checkChartURL(t *testing.T, b baked, chart, file string) {
	t.Helper()
	u, err := url.Parse(strings.ReplaceAll(chart, "%{KUBERNETES_API}%", "10.43.0.1:443"))
	if err != nil {
		t.Errorf("chart URL %s: %v", chart, err)
		return
	}
	served, ok := strings.CutPrefix(u.Path, "/static/")
	if u.Scheme != "https" || u.Host != "10.43.0.1:443" || !ok {
		t.Errorf("chart URL %s in the pod is %s, want https://10.43.0.1:443/static/...", chart, u)
		return
	}
	if got, want := path.Join("/var/lib/rancher/k3s/server/static", served), path.Join(payload.K3sStaticChartsDir, file); got != want {
		t.Errorf("chart URL %s is served from %s, firstboot places the chart at %s", u, got, want)
	}
	readTree(t, b.tree, path.Join(payload.PlatformChartsDir, file))
}

// valuesFile is where helm-controller puts a HelmChart's valuesContent in
// the pod's /config (chart.go setValuesSecret).
const valuesFile = "values-0-000-HelmChart-ValuesContent.yaml"

// checkValues checks that the Job hands helm the baked values: the Secret
// chart-values-<HelmChart> holds valuesContent under HelmChartValuesContent,
// and the Job's "values" volume projects it as /config/valuesFile, where
// klipper-helm passes every *.yaml to helm as --values (entry, line 8).
// A chart installed with its own defaults (a site's chart given no values)
// has no valuesContent, and helm-controller then projects nothing
// (chart.go setValuesSecret: the item is added only for a non-empty
// ValuesContent).
func checkValues(t *testing.T, c *cluster, job *batchv1.Job, valuesContent string, want map[string]any) {
	t.Helper()
	if len(want) == 0 {
		if valuesContent != "" {
			t.Errorf("job %s: valuesContent %q for no values", job.Name, valuesContent)
		}
		for _, v := range job.Spec.Template.Spec.Volumes {
			if v.Name == "values" && v.Projected != nil && len(v.Projected.Sources) > 0 && v.Projected.Sources[0].Secret != nil &&
				len(v.Projected.Sources[0].Secret.Items) > 0 {
				t.Errorf("job %s: values projected %v for a chart with no values", job.Name, v.Projected.Sources[0].Secret.Items)
			}
		}
		return
	}
	name := strings.TrimPrefix(job.Name, "helm-install-")
	sec, err := c.core.CoreV1().Secrets(job.Namespace).Get(c.ctx, "chart-values-"+name, metav1.GetOptions{})
	if err != nil {
		t.Errorf("job %s: values: %v", job.Name, err)
		return
	}
	if got := string(sec.Data["HelmChartValuesContent"]); got != valuesContent {
		t.Errorf("job %s: secret %s HelmChartValuesContent:\n%s\nwant the manifest's valuesContent:\n%s", job.Name, sec.Name, got, valuesContent)
	}
	var got map[string]any
	if err := yaml.Unmarshal(sec.Data["HelmChartValuesContent"], &got); err != nil {
		t.Errorf("job %s: values: %v", job.Name, err)
	}
	if w := jsonRoundTrip(t, want); !reflect.DeepEqual(got, w) {
		t.Errorf("job %s: values %v, want the merged values %v", job.Name, got, w)
	}
	var mounted, projected bool
	for _, m := range job.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "values" && m.MountPath == "/config")
	}
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Name != "values" || v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.Secret == nil || src.Secret.Name != sec.Name {
				continue
			}
			for _, it := range src.Secret.Items {
				projected = projected || (it.Key == "HelmChartValuesContent" && it.Path == valuesFile)
			}
		}
	}
	if !mounted || !projected {
		t.Errorf("job %s: values not projected as /config/%s (mounted %v, projected %v)", job.Name, valuesFile, mounted, projected)
	}
}

// jsonRoundTrip is v as JSON decodes it (numbers float64), as the values
// decoded from YAML compare.
func jsonRoundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
