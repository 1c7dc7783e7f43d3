package bringup

import (
	"testing"

	"github.com/ml-appliance/appliance/firstboot/payload"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestInstallJobRestarting: helm-controller's install pod restarts in
// place (restartPolicy OnFailure), so a failing install shows as container
// restarts, not failed pods; the running job's reason counts them.
func TestInstallJobRestarting(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.helmChart("restarts-argo", "argo")
	job := c.installJob("helm-install-restarts-argo")
	pod := c.jobPod(job, "helm-install-restarts-argo-a", "server-1")
	// One start time for both updates: the API server refuses to change a
	// started job's status.startTime, and Now taken twice may fall in two
	// seconds (the API's precision).
	start := metav1.Now()
	c.jobStatus(job, batchv1.JobStatus{Active: 1, StartTime: &start})

	rec := newRecorder()
	wait := run(t, Options{
		Config: c.cfg, Poll: testPoll, OnUpdate: rec.onUpdate,
		Platform: payload.Platform{Components: []payload.PlatformComponent{{Name: "argo", Namespace: "argo", HelmChart: "restarts-argo", Timeout: "30s"}}},
	})
	rec.waitFor(t, "argo's job running", componentIs(0, StateInstalling, "install job kube-system/helm-install-restarts-argo running"))
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "helm", Image: pod.Spec.Containers[0].Image, RestartCount: 2,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
	}}}
	_, err := c.core.CoreV1().Pods(pod.Namespace).UpdateStatus(c.ctx, pod, metav1.UpdateOptions{})
	c.check("update pod status", err)
	rec.waitFor(t, "argo's failed attempts", componentIs(0, StateInstalling, "install job kube-system/helm-install-restarts-argo running (2 failed attempts)"))

	c.jobStatus(job, completedJob(start))
	if _, err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
