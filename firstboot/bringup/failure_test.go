package bringup

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runOne runs Run on one component to its end and returns its status.
func runOne(t *testing.T, c *cluster, pc payload.PlatformComponent) ComponentStatus {
	t.Helper()
	s, err := Run(t.Context(), Options{
		Config: c.cfg, Platform: payload.Platform{Components: []payload.PlatformComponent{pc}},
		NodeAddress: "10.0.0.10", Poll: testPoll,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(s.Components) != 1 {
		t.Fatalf("Run returned %d components, want 1", len(s.Components))
	}
	return s.Components[0]
}

// wantDetail fails t unless every line of want is in the detail.
func wantDetail(t *testing.T, cs ComponentStatus, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(cs.Detail, w) {
			t.Errorf("detail lacks %q; detail:\n%s", w, strings.Join(cs.Detail, "\n"))
		}
	}
}

// wantDetailPrefix fails t unless a line of the detail starts with prefix.
func wantDetailPrefix(t *testing.T, cs ComponentStatus, prefix string) {
	t.Helper()
	if !slices.ContainsFunc(cs.Detail, func(l string) bool { return strings.HasPrefix(l, prefix) }) {
		t.Errorf("no detail line starts with %q; detail:\n%s", prefix, strings.Join(cs.Detail, "\n"))
	}
}

// TestInstallJobFails: a job that reached its backoff limit fails the
// component at once (well before its timeout), with the job's condition,
// its pods' events and why the last pod's logs are unavailable.
func TestInstallJobFails(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.helmChart("fails-mlflow", "mlflow")
	job := c.installJob("helm-install-fails-mlflow")
	pod1 := c.jobPod(job, "helm-install-fails-mlflow-a1", "")
	// On a node the API server does not know: it cannot reach a kubelet
	// for the logs.
	pod2 := c.jobPod(job, "helm-install-fails-mlflow-b2", "gone-node")
	c.event("Pod", pod1, corev1.EventTypeNormal, "Pulled", "Container image \"rancher/klipper-helm:test\" already present on machine")
	c.event("Pod", pod2, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container helm in pod helm-install-fails-mlflow-b2")
	c.event("Job", job, corev1.EventTypeWarning, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Minute))
	c.jobStatus(job, batchv1.JobStatus{
		Failed: 2, StartTime: &start,
		Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
		},
	})

	cs := runOne(t, c, payload.PlatformComponent{Name: "mlflow", Namespace: "mlflow", HelmChart: "fails-mlflow", Timeout: "1m", Workloads: []string{"Deployment/mlflow"}})
	wantReason := "install job kube-system/helm-install-fails-mlflow failed: BackoffLimitExceeded; events: " +
		"Job helm-install-fails-mlflow: BackoffLimitExceeded: Job has reached the specified backoff limit; " +
		"Pod helm-install-fails-mlflow-b2: BackOff: Back-off restarting failed container helm in pod helm-install-fails-mlflow-b2"
	if cs.State != StateFailed || cs.Reason != wantReason {
		t.Errorf("mlflow: %s: %s\nwant failed: %s", cs.State, cs.Reason, wantReason)
	}
	wantDetail(t, cs,
		"job kube-system/helm-install-fails-mlflow: 0 active, 0 succeeded, 2 failed",
		"job condition Failed=True: BackoffLimitExceeded: Job has reached the specified backoff limit",
		"pod helm-install-fails-mlflow-a1: Pending",
		"pod helm-install-fails-mlflow-b2: Pending on gone-node",
		"event Pod helm-install-fails-mlflow-a1: Normal Pulled: Container image \"rancher/klipper-helm:test\" already present on machine",
		"event Pod helm-install-fails-mlflow-b2: Warning BackOff: Back-off restarting failed container helm in pod helm-install-fails-mlflow-b2",
	)
	wantDetailPrefix(t, cs, "logs of pod helm-install-fails-mlflow-b2 unavailable: ")
}

// TestHelmChartFailed: helm-controller gave up (the HelmChart's Failed
// condition) before any job ran.
func TestHelmChartFailed(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.helmChart("hcfailed-kf", "kubeflow")
	c.helmChartStatus("hcfailed-kf", map[string]any{"conditions": []any{
		map[string]any{"type": "JobCreated", "status": "False"},
		map[string]any{"type": "Failed", "status": "True", "reason": "Unsupported version", "message": "Only Helm v3 charts are supported"},
	}})
	cs := runOne(t, c, payload.PlatformComponent{Name: "kubeflow", Namespace: "kubeflow", HelmChart: "hcfailed-kf", Timeout: "1m"})
	want := "HelmChart kube-system/hcfailed-kf failed: Unsupported version: Only Helm v3 charts are supported"
	if cs.State != StateFailed || cs.Reason != want || len(cs.Detail) != 0 {
		t.Errorf("kubeflow: %s: %s %q\nwant failed: %s, no detail", cs.State, cs.Reason, cs.Detail, want)
	}
}

// TestInstallJobHangs: a job still running at the deadline fails the
// component by timeout, with what is known of the job. The job is the one
// the HelmChart's status names.
func TestInstallJobHangs(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.helmChart("hangs-jupyter", "jupyter")
	c.helmChartStatus("hangs-jupyter", map[string]any{"jobName": "helm-install-hangs-jupyter-v2"})
	c.installJob("helm-install-hangs-jupyter") // not the one named: must not be looked at
	job := c.installJob("helm-install-hangs-jupyter-v2")
	c.jobPod(job, "helm-install-hangs-jupyter-v2-x", "")
	c.jobStatus(job, batchv1.JobStatus{Active: 1, StartTime: new(metav1.Now())})

	cs := runOne(t, c, payload.PlatformComponent{Name: "jupyter", Namespace: "jupyter", HelmChart: "hangs-jupyter", Timeout: "2s"})
	want := "timed out after 2s waiting for install job kube-system/helm-install-hangs-jupyter-v2"
	if cs.State != StateFailed || cs.Reason != want {
		t.Errorf("jupyter: %s: %s\nwant failed: %s", cs.State, cs.Reason, want)
	}
	wantDetail(t, cs,
		"job kube-system/helm-install-hangs-jupyter-v2: 1 active, 0 succeeded, 0 failed",
		"pod helm-install-hangs-jupyter-v2-x: Pending",
	)
	wantDetail(t, cs, "no logs of pod helm-install-hangs-jupyter-v2-x: not scheduled to a node")
}

// TestInstallJobNeverCreated: the HelmChart is there but no job ever is.
func TestInstallJobNeverCreated(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.helmChart("nojob-ray", "ray")
	cs := runOne(t, c, payload.PlatformComponent{Name: "ray", Namespace: "ray", HelmChart: "nojob-ray", Timeout: "1s"})
	want := "timed out after 1s waiting for install job kube-system/helm-install-nojob-ray to appear"
	if cs.State != StateFailed || cs.Reason != want {
		t.Errorf("ray: %s: %s\nwant failed: %s", cs.State, cs.Reason, want)
	}
}

// TestHelmChartNeverAppears: K3s never applied the manifest.
func TestHelmChartNeverAppears(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cs := runOne(t, c, payload.PlatformComponent{Name: "grafana", Namespace: "grafana", HelmChart: "never-grafana", Timeout: "1500ms"})
	want := "HelmChart kube-system/never-grafana never appeared (waited 1.5s)"
	if cs.State != StateFailed || cs.Reason != want {
		t.Errorf("grafana: %s: %s\nwant failed: %s", cs.State, cs.Reason, want)
	}
}

// TestWorkloadNotReady: installed, but a workload is not available by the
// deadline; the failure names it and its counts.
func TestWorkloadNotReady(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ns := "notready-kserve"
	c.namespace(ns)
	c.helmChart("notready-kserve", ns)
	job := c.installJob("helm-install-notready-kserve")
	c.jobStatus(job, completedJob(metav1.NewTime(time.Now().Add(-time.Minute))))
	c.deploymentStatus(c.deployment(ns, "controller", 1), 1)
	c.deploymentStatus(c.deployment(ns, "webhook", 3), 1)

	cs := runOne(t, c, payload.PlatformComponent{
		Name: "kserve", Namespace: ns, HelmChart: "notready-kserve", Timeout: "2s",
		Workloads: []string{"Deployment/controller", "Deployment/webhook", "StatefulSet/missing"},
	})
	want := "not ready after 2s: Deployment notready-kserve/webhook: 3 of 3 replicas updated, 1 available; StatefulSet notready-kserve/missing: not found"
	if cs.State != StateFailed || cs.Reason != want {
		t.Errorf("kserve: %s: %s\nwant failed: %s", cs.State, cs.Reason, want)
	}
	wantDetail(t, cs, "Deployment notready-kserve/controller: ready, 1 of 1 replicas updated, 1 available")
}
