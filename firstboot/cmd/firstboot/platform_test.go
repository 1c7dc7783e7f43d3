package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/kubetest"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// writeKubeconfig writes cfg as the admin kubeconfig K3s writes on a server.
func writeKubeconfig(t *testing.T, root string, cfg *rest.Config) {
	t.Helper()
	path := filepath.Join(root, payload.K3sKubeconfigPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := kubetest.WriteKubeconfig(path, cfg); err != nil {
		t.Fatal(err)
	}
}

// installed plays K3s for one component that installed and rolled out.
func installed(t *testing.T, cfg *rest.Config, helmChart, namespace, deployment string) {
	t.Helper()
	ctx := t.Context()
	core := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	must("namespace", err)
	hc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
		"metadata": map[string]any{"name": helmChart, "namespace": payload.HelmChartNamespace},
		"spec":     map[string]any{"chart": "https://%{KUBERNETES_API}%/static/charts/x-1.0.0.tgz", "targetNamespace": namespace},
	}}
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}).
		Namespace(payload.HelmChartNamespace).Create(ctx, hc, metav1.CreateOptions{})
	must("HelmChart", err)
	job, err := core.BatchV1().Jobs(payload.HelmChartNamespace).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "helm-install-" + helmChart},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyOnFailure,
			Containers:    []corev1.Container{{Name: "helm", Image: "rancher/klipper-helm:test"}},
		}}},
	}, metav1.CreateOptions{})
	must("job", err)
	now := metav1.Now()
	job.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &now, CompletionTime: &now, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}}
	_, err = core.BatchV1().Jobs(payload.HelmChartNamespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	must("job status", err)
	one := int32(1)
	labels := map[string]string{"app": deployment}
	dep, err := core.AppsV1().Deployments(namespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deployment},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:test"}}}}},
	}, metav1.CreateOptions{})
	must("deployment", err)
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	_, err = core.AppsV1().Deployments(namespace).UpdateStatus(ctx, dep, metav1.UpdateOptions{})
	must("deployment status", err)
}

// TestPlatformAndStatus runs `firstboot platform` against a real API server
// where one component installed and one never appears, then `firstboot
// status` in both formats.
func TestPlatformAndStatus(t *testing.T) {
	cfg := kubetest.Start(t, "../../bringup/testdata/crds")
	root := t.TempDir()
	writeKubeconfig(t, root, cfg)
	platform := payload.Platform{Components: []payload.PlatformComponent{
		{Name: "mlflow", Namespace: "mlflow", HelmChart: "mlflow", Timeout: "30s", Workloads: []string{"Deployment/mlflow"}},
		{Name: "minio", Namespace: "minio", HelmChart: "minio", Timeout: "1s", Workloads: []string{"Deployment/minio"}},
	}}
	data, err := json.Marshal(platform)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, payload.PlatformManifest), string(data))
	writeFile(t, filepath.Join(root, agent.StateDir, "steps/decide-role.json"),
		`{"step":"decide-role","completed":"2026-03-01T10:00:00Z","values":{"role":"server","clusterInit":"true","hostname":"ctrl-1"}}`)
	installed(t, cfg, "mlflow", "mlflow", "mlflow")

	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, []string{"platform", "--root", root, "--poll", "100ms", "--api-timeout", "30s"}, &stdout, &stderr)
	if code != 1 || stderr.String() != "firstboot: error: platform: not ready: minio\n" {
		t.Errorf("platform: code %d, stderr %q; want 1 and minio not ready", code, stderr.String())
	}
	for _, want := range []string{
		"firstboot: platform: kubernetes API ready\n",
		"firstboot: platform: mlflow ready\n",
		"firstboot: platform: minio failed: HelmChart kube-system/minio never appeared (waited 1s)\n",
		"firstboot: platform: 1 of 2 components ready; `firstboot status` shows where to reach them\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("platform output lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"status", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("status: code %d, %s", code, stderr.String())
	}
	text := stdout.String()
	if !strings.HasPrefix(text, "node: ctrl-1, server (initial server)\n"+noHostCheck+noImages+noK3sSnapshot+"platform (as of ") ||
		!strings.HasSuffix(text, "):\nmlflow ready\nminio failed: HelmChart kube-system/minio never appeared (waited 1s)\n") {
		t.Errorf("status printed:\n%s", text)
	}

	stdout.Reset()
	if code := run(ctx, []string{"status", "--root", root, "--output", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("status --output json: code %d, %s", code, stderr.String())
	}
	var rep statusReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, stdout.String())
	}
	if rep.Node.Hostname != "ctrl-1" || !rep.Node.ClusterInit || rep.Platform == nil || len(rep.Platform.Components) != 2 ||
		rep.Platform.Components[0].State != "ready" || rep.Platform.Components[1].State != "failed" {
		t.Errorf("status JSON = %s", stdout.String())
	}
}

func TestStatusBeforeAnything(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"status", "--root", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	want := "node: no role decided yet (firstboot has not got that far)\n" + noHostCheck + noImages + noK3sSnapshot +
		"platform: brought up and reported by the initial server; run `firstboot status` there\n"
	if stdout.String() != want {
		t.Errorf("printed %q, want %q", stdout.String(), want)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"status", "--output", "yaml"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), `--output "yaml": want text or json`) {
		t.Errorf("bad --output: code %d, stderr %q", code, stderr.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatusListsComponentsBeforeTheAPI: the status lists every component,
// the site's own charts marked, while K3s has not written its kubeconfig,
// and after the wait for it gave up.
func TestStatusListsComponentsBeforeTheAPI(t *testing.T) {
	root := t.TempDir()
	data, err := json.Marshal(payload.Platform{Components: []payload.PlatformComponent{
		{Name: "minio", Namespace: "minio", HelmChart: "minio", Workloads: []string{"Deployment/minio"}},
		{Name: "tiny-model", Origin: payload.OriginSite, Namespace: "models", HelmChart: "tiny-model", Workloads: []string{"Deployment/tiny-model"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, payload.PlatformManifest), string(data))
	writeFile(t, filepath.Join(root, agent.StateDir, "steps/decide-role.json"),
		`{"step":"decide-role","completed":"2026-03-01T10:00:00Z","values":{"role":"server","clusterInit":"true","hostname":"ctrl-1"}}`)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"platform", "--root", root, "--poll", "50ms", "--api-timeout", "200ms"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("platform without a kubeconfig: code %d, stderr %q; want 1", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"status", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("status: code %d, %s", code, stderr.String())
	}
	for _, want := range []string{
		"):\nkubernetes API unreachable: ",
		"\nminio waiting: waiting for the API server\ntiny-model (site chart) waiting: waiting for the API server\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, stdout.String())
		}
	}
}
