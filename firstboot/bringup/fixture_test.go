package bringup

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/kubetest"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// testPoll is Options.Poll in the tests.
const testPoll = 100 * time.Millisecond

// cluster is the shared API server, and the test playing K3s's deploy
// controller, helm-controller, the job controller and the workload
// controllers on it.
type cluster struct {
	t    *testing.T
	ctx  context.Context
	cfg  *rest.Config
	core kubernetes.Interface
	dyn  dynamic.Interface
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	cfg := kubetest.Shared(t)
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, ctx: t.Context(), cfg: cfg, core: core, dyn: dyn}
}

// namespace creates a namespace (with the default service account no
// controller makes here).
func (c *cluster) namespace(name string) {
	c.t.Helper()
	_, err := c.core.CoreV1().Namespaces().Create(c.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	c.check("create namespace "+name, err)
	c.serviceAccount(name)
}

func (c *cluster) serviceAccount(namespace string) {
	c.t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	_, err := c.core.CoreV1().ServiceAccounts(namespace).Create(c.ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return
	}
	c.check("create service account "+namespace+"/default", err)
}

func (c *cluster) check(what string, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// helmChart creates HelmChart kube-system/name, as K3s's deploy controller
// does from a manifest.
func (c *cluster) helmChart(name, targetNamespace string) {
	c.t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.cattle.io/v1",
		"kind":       "HelmChart",
		"metadata":   map[string]any{"name": name, "namespace": payload.HelmChartNamespace},
		"spec": map[string]any{
			"chart":           "https://%{KUBERNETES_API}%/static/charts/" + name + "-1.0.0.tgz",
			"targetNamespace": targetNamespace,
		},
	}}
	_, err := c.dyn.Resource(helmChartResource).Namespace(payload.HelmChartNamespace).Create(c.ctx, u, metav1.CreateOptions{})
	c.check("create HelmChart "+name, err)
}

// helmChartStatus sets the HelmChart's status, as helm-controller does.
func (c *cluster) helmChartStatus(name string, status map[string]any) {
	c.t.Helper()
	res := c.dyn.Resource(helmChartResource).Namespace(payload.HelmChartNamespace)
	u, err := res.Get(c.ctx, name, metav1.GetOptions{})
	c.check("get HelmChart "+name, err)
	u.Object["status"] = status
	_, err = res.UpdateStatus(c.ctx, u, metav1.UpdateOptions{})
	c.check("update HelmChart status "+name, err)
}

// installJob creates a Job as helm-controller does (the API server gives it
// its pod selector).
func (c *cluster) installJob(name string) *batchv1.Job {
	c.t.Helper()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: payload.HelmChartNamespace},
		Spec: batchv1.JobSpec{
			BackoffLimit: new(int32(1)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers:    []corev1.Container{{Name: "helm", Image: "rancher/klipper-helm:test"}},
			}},
		},
	}
	job, err := c.core.BatchV1().Jobs(job.Namespace).Create(c.ctx, job, metav1.CreateOptions{})
	c.check("create job "+name, err)
	return job
}

// jobStatus sets a Job's status, as the job controller does.
func (c *cluster) jobStatus(job *batchv1.Job, status batchv1.JobStatus) *batchv1.Job {
	c.t.Helper()
	job, err := c.core.BatchV1().Jobs(job.Namespace).Get(c.ctx, job.Name, metav1.GetOptions{})
	c.check("get job", err)
	job.Status = status
	job, err = c.core.BatchV1().Jobs(job.Namespace).UpdateStatus(c.ctx, job, metav1.UpdateOptions{})
	c.check("update job status "+job.Name, err)
	return job
}

// jobPod creates a pod of the job, as the job controller does, bound to
// node unless that is empty.
func (c *cluster) jobPod(job *batchv1.Job, name, node string) *corev1.Pod {
	c.t.Helper()
	c.serviceAccount(job.Namespace)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: job.Namespace, Labels: job.Spec.Template.Labels},
		Spec:       job.Spec.Template.Spec,
	}
	pod.Spec.NodeName = node
	pod, err := c.core.CoreV1().Pods(pod.Namespace).Create(c.ctx, pod, metav1.CreateOptions{})
	c.check("create pod "+name, err)
	return pod
}

// event records an event about obj, as the kubelet or a controller does.
func (c *cluster) event(kind string, obj metav1.Object, typ, reason, message string) {
	c.t.Helper()
	now := metav1.Now()
	e := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: obj.GetName() + ".", Namespace: obj.GetNamespace()},
		InvolvedObject: corev1.ObjectReference{
			Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
		},
		Type: typ, Reason: reason, Message: message, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "test"},
	}
	_, err := c.core.CoreV1().Events(e.Namespace).Create(c.ctx, e, metav1.CreateOptions{})
	c.check("create event "+reason, err)
}

// recorder collects what Run reports.
type recorder struct {
	mu      sync.Mutex
	logs    []string
	updates []Status
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) onUpdate(s Status) {
	r.mu.Lock()
	r.updates = append(r.updates, s)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.logs...)
}

// waitFor waits until a reported Status satisfies ok, failing t after 20s
// with the last one.
func (r *recorder) waitFor(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		var last Status
		if n := len(r.updates); n > 0 {
			last = r.updates[n-1]
		}
		r.mu.Unlock()
		if ok(last) {
			return last
		}
		select {
		case <-r.changed:
		case <-deadline:
			var b strings.Builder
			FormatText(&b, last)
			t.Fatalf("no status with %s in 20s; last:\n%s", what, b.String())
		}
	}
}

// componentIs is a waitFor condition: component i has the state and a
// reason starting with reasonPrefix.
func componentIs(i int, state, reasonPrefix string) func(Status) bool {
	return func(s Status) bool {
		return len(s.Components) > i && s.Components[i].State == state && strings.HasPrefix(s.Components[i].Reason, reasonPrefix)
	}
}

// run runs Run in the background; wait returns its result.
func run(t *testing.T, opts Options) (wait func() (Status, error)) {
	t.Helper()
	type result struct {
		s   Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Run(t.Context(), opts)
		done <- result{s, err}
	}()
	return func() (Status, error) {
		t.Helper()
		select {
		case r := <-done:
			return r.s, r.err
		case <-time.After(60 * time.Second):
			t.Fatal("Run did not return within 60s")
			return Status{}, nil
		}
	}
}
