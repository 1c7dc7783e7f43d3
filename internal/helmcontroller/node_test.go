package helmcontroller

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ml-appliance/appliance/builder/platform"
)

// What follows is a TEST DOUBLE for the parts of a K3s node that do not run
// here: the job controller (it makes an install Job's pod from the Job's
// template and sets the Job's status), the kubelet (it runs the pod and
// reports it), klipper-helm in the pod (helm install: the release's objects
// and Helm's release record) and the workload controllers (they roll the
// workloads out). Everything it writes goes through the API server, which
// validates it as it would theirs.

// nodeName is the node the double "runs" pods on; the API server knows no
// such node, so it cannot reach a kubelet for logs, as for a node that died.
const nodeName = "server-1"

// installPodName is the name the double gives the pod of Job job.
func installPodName(job string) string { return job + "-x7k2p" }

// installPod creates the Job's pod as the job controller does: the Job's
// pod template, the labels the API server added to it (the Job's
// selector), owned by the Job.
func (c *cluster) installPod(job *batchv1.Job) *corev1.Pod {
	c.t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: installPodName(job.Name), Namespace: job.Namespace,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = nodeName
	pod, err := c.core.CoreV1().Pods(job.Namespace).Create(c.ctx, pod, metav1.CreateOptions{})
	c.check("create the pod of job "+job.Name, err)
	return pod
}

// podExited reports the pod's helm container exited with code, as the
// kubelet does.
func (c *cluster) podExited(pod *corev1.Pod, code int32) {
	c.t.Helper()
	now := metav1.Now()
	phase, reason := corev1.PodSucceeded, "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	c.podStatus(pod, phase, corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now,
	}}})
}

// podCrashLooping reports the pod's helm container failed restarts times
// and waits to be restarted, as the kubelet does for a pod whose restart
// policy is OnFailure (helm-controller's).
func (c *cluster) podCrashLooping(pod *corev1.Pod, restarts int32) {
	c.t.Helper()
	now := metav1.Now()
	c.podStatus(pod, corev1.PodRunning, corev1.ContainerStatus{
		RestartCount: restarts,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=helm pod=" + pod.Name,
		}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now,
		}},
	})
}

// podStatus sets the pod's phase and its one container's status.
func (c *cluster) podStatus(pod *corev1.Pod, phase corev1.PodPhase, cs corev1.ContainerStatus) {
	c.t.Helper()
	now := metav1.Now()
	cs.Name, cs.Image = pod.Spec.Containers[0].Name, pod.Spec.Containers[0].Image
	pod.Status = corev1.PodStatus{Phase: phase, StartTime: &now, ContainerStatuses: []corev1.ContainerStatus{cs}}
	_, err := c.core.CoreV1().Pods(pod.Namespace).UpdateStatus(c.ctx, pod, metav1.UpdateOptions{})
	c.check("update the status of pod "+pod.Name, err)
}

// podEvent records an event about the pod, as the kubelet does.
func (c *cluster) podEvent(pod *corev1.Pod, typ, reason, message string) {
	c.t.Helper()
	now := metav1.Now()
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Type:           typ, Reason: reason, Message: message, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "kubelet", Host: nodeName},
	}
	_, err := c.core.CoreV1().Events(pod.Namespace).Create(c.ctx, e, metav1.CreateOptions{})
	c.check("create event "+reason, err)
}

// Job outcomes the job controller reports.
const (
	jobRunning  = "running"  // its pod runs (and may be restarting)
	jobComplete = "complete" // its pod succeeded
	jobFailed   = "failed"   // it reached its backoff limit
)

// jobStatus sets the status the job controller sets for the outcome.
func (c *cluster) jobStatus(job *batchv1.Job, outcome string) {
	c.t.Helper()
	job, err := c.core.BatchV1().Jobs(job.Namespace).Get(c.ctx, job.Name, metav1.GetOptions{})
	c.check("get job", err)
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-10 * time.Second))
	job.Status = batchv1.JobStatus{StartTime: &start}
	switch outcome {
	case jobRunning:
		job.Status.Active, job.Status.Ready = 1, new(int32(0))
	case jobComplete:
		job.Status.Succeeded, job.Status.CompletionTime = 1, &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
	case jobFailed:
		job.Status.Failed = 1
		msg := "Job has reached the specified backoff limit"
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: msg, LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: msg, LastTransitionTime: now},
		}
	default:
		c.t.Fatalf("job %s: unknown outcome %q", job.Name, outcome)
	}
	_, err = c.core.BatchV1().Jobs(job.Namespace).UpdateStatus(c.ctx, job, metav1.UpdateOptions{})
	c.check("update the status of job "+job.Name, err)
}

// helmInstall does what `helm install --create-namespace` in klipper-helm
// does for the component: the target namespace, the chart's objects
// (hooks left out), and Helm's release record (Helm's secret storage
// driver: Secret sh.helm.release.v1.<release>.v1 of type helm.sh/release.v1
// labelled name, owner=helm, status=deployed, version=1), which
// helm-controller reads to find the release's revision.
func (c *cluster) helmInstall(comp *platform.Component) {
	c.t.Helper()
	ns, release := comp.Catalog.Namespace, comp.Catalog.ReleaseName()
	_, err := c.core.CoreV1().Namespaces().Create(c.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		c.check("create namespace "+ns, err)
	}
	for _, m := range comp.Rendered.Manifests {
		if !m.Hook {
			c.create(ns, []byte(m.Content))
		}
	}
	rec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "sh.helm.release.v1." + release + ".v1", Namespace: ns,
			Labels: map[string]string{"name": release, "owner": "helm", "status": "deployed", "version": "1"},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte("stand-in release record (test double)")},
	}
	_, err = c.core.CoreV1().Secrets(ns).Create(c.ctx, rec, metav1.CreateOptions{})
	c.check("create the release record of "+release, err)
}

// rolledOutStatus is the status each workload controller sets once every
// pod of a one-replica workload (one node for a DaemonSet) is up to date
// and available.
// (Unstructured objects hold JSON numbers as int64.)
var rolledOutStatus = map[string]map[string]any{
	"Deployment":  {"replicas": one, "updatedReplicas": one, "readyReplicas": one, "availableReplicas": one},
	"StatefulSet": {"replicas": one, "updatedReplicas": one, "readyReplicas": one, "availableReplicas": one, "currentReplicas": one, "currentRevision": "r1", "updateRevision": "r1"},
	"DaemonSet":   {"desiredNumberScheduled": one, "currentNumberScheduled": one, "updatedNumberScheduled": one, "numberReady": one, "numberAvailable": one, "numberMisscheduled": int64(0)},
}

const one = int64(1)

// rollOut sets each workload ("Kind/name" in namespace) rolled out, as its
// controller would.
func (c *cluster) rollOut(namespace string, workloads []string) {
	c.t.Helper()
	for _, w := range workloads {
		kind, name, _ := strings.Cut(w, "/")
		status, ok := rolledOutStatus[kind]
		if !ok {
			c.t.Fatalf("workload %s: no controller double for kind %s", w, kind)
		}
		res := c.dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: strings.ToLower(kind) + "s"}).Namespace(namespace)
		u, err := res.Get(c.ctx, name, metav1.GetOptions{})
		c.check(fmt.Sprintf("get %s %s/%s", kind, namespace, name), err)
		st := map[string]any{"observedGeneration": u.GetGeneration()}
		for k, v := range status {
			st[k] = v
		}
		c.check("set status", unstructured.SetNestedField(u.Object, st, "status"))
		_, err = res.UpdateStatus(c.ctx, u, metav1.UpdateOptions{})
		c.check(fmt.Sprintf("update the status of %s %s/%s", kind, namespace, name), err)
	}
}
