package helmcontroller

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ml-appliance/appliance/firstboot/bringup"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/kubetest"
)

// Components whose install the test fails, each as K3s would show it.
const (
	// crashingComponent's install pod keeps failing. helm-controller's Job
	// retries it far longer than any bring-up waits (backoffLimit 1000,
	// restartPolicy OnFailure: chart.go defaultBackOffLimit, job()), so the
	// Job stays active; bring-up reports it when the component's timeout
	// passes, shortened to crashTimeout here.
	crashingComponent = "seldon-core"
	crashTimeout      = 5 * time.Second
	// failedComponent's Job reached its backoff limit: the job controller
	// marked it Failed; bring-up reports it at once.
	failedComponent = "nfs-provisioner"
)

// TestBakedPlatformThroughHelmController puts the HelmChart manifests a
// build of the example config bakes (every catalog component) through the
// pinned K3s release's real helm-controller on a real API server, as a K3s
// server would: the deploy controller creates them, helm-controller makes
// an install Job of each. It checks each Job (image, helm arguments, the
// chart URL and where it leads, the values), then plays the node (see
// node_test.go) while firstboot's bring-up follows the platform: every
// install succeeds but two, which fail as K3s would show a failing install
// (crashingComponent, failedComponent). Bring-up must report the others
// ready with their endpoints, the crashing one's failed attempts while it
// runs, and those two failed with the Job's detail; helm-controller must
// leave the finished Jobs alone.
func TestBakedPlatformThroughHelmController(t *testing.T) {
	b := bake(t)
	cfg := kubetest.Start(t)
	Start(t, cfg)
	c := newCluster(t, cfg)
	names := slices.Sorted(maps.Keys(b.manifests))
	for _, name := range names {
		c.deployManifest(b.manifests[name])
	}

	jobs := map[string]*batchv1.Job{}
	for _, name := range names {
		jobs[name] = c.waitInstallJob(name)
		checkInstallJob(t, c, b, name, jobs[name])
	}
	if t.Failed() {
		t.FailNow()
	}

	for i := range b.platform.Components {
		if b.platform.Components[i].Name == crashingComponent {
			b.platform.Components[i].Timeout = crashTimeout.String()
		}
	}
	// The failing installs fail first, so the crashing one's detail is
	// there well before its short timeout passes.
	for _, name := range names {
		switch b.component(t, name).Catalog.Name {
		case crashingComponent:
			pod := c.installPod(jobs[name])
			c.podCrashLooping(pod, 3)
			c.podEvent(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container helm in pod "+pod.Name)
			c.jobStatus(jobs[name], jobRunning)
		case failedComponent:
			pod := c.installPod(jobs[name])
			c.podExited(pod, 1)
			c.podEvent(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container helm in pod "+pod.Name)
			c.jobStatus(jobs[name], jobFailed)
		}
	}
	done, seen := runBringup(t, cfg, b.platform)
	for _, name := range names {
		comp := b.component(t, name)
		if comp.Catalog.Name == crashingComponent || comp.Catalog.Name == failedComponent {
			continue
		}
		pod := c.installPod(jobs[name])
		c.helmInstall(comp)
		c.podExited(pod, 0)
		c.jobStatus(jobs[name], jobComplete)
		c.rollOut(comp.Catalog.Namespace, comp.Workloads)
	}
	status := done()

	for _, cs := range status.Components {
		pc := platformComponent(t, b.platform, cs.Name)
		job, pod := "kube-system/helm-install-"+pc.HelmChart, installPodName("helm-install-"+pc.HelmChart)
		switch cs.Name {
		case crashingComponent:
			if running := "install job " + job + " running (3 failed attempts)"; !seen.has(cs.Name, running) {
				t.Errorf("%s: never reported %q while its pod restarted", cs.Name, running)
			}
			checkFailed(t, cs, pc, "timed out after "+crashTimeout.String()+" waiting for install job "+job,
				"job "+job+": 1 active, 0 succeeded, 0 failed",
				"pod "+pod+": Running on "+nodeName+", container helm waiting: CrashLoopBackOff: back-off 40s restarting failed container=helm pod="+pod)
		case failedComponent:
			checkFailed(t, cs, pc, "install job "+job+" failed: BackoffLimitExceeded",
				"job "+job+": 0 active, 0 succeeded, 1 failed",
				"job condition Failed=True: BackoffLimitExceeded: Job has reached the specified backoff limit",
				"pod "+pod+": Failed on "+nodeName+", container helm terminated: exit code 1 Error")
		default:
			checkReady(t, cs, pc)
		}
		t.Logf("%s: %s %s", cs.Name, cs.State, cs.Reason)
	}
	c.checkJobsKept(jobs)
}

// checkReady checks a component is ready with its endpoints.
func checkReady(t *testing.T, cs bringup.ComponentStatus, pc payload.PlatformComponent) {
	t.Helper()
	if cs.State != bringup.StateReady {
		t.Errorf("%s: %s: %s %q, want ready", cs.Name, cs.State, cs.Reason, cs.Detail)
	}
	var want []string
	for _, e := range pc.Endpoints {
		want = append(want, fmt.Sprintf("%s: kubectl -n %s port-forward svc/%s %d", e.Name, pc.Namespace, e.Service, e.Port))
	}
	if !slices.Equal(cs.Endpoints, want) {
		t.Errorf("%s: endpoints %q, want %q", cs.Name, cs.Endpoints, want)
	}
}

// checkFailed checks a failed install is reported failed: the reason is
// what failed (reason) then the pod's warning event, and the detail has
// the lines wantDetail.
func checkFailed(t *testing.T, cs bringup.ComponentStatus, pc payload.PlatformComponent, reason string, wantDetail ...string) {
	t.Helper()
	pod := installPodName("helm-install-" + pc.HelmChart)
	reason += "; events: Pod " + pod + ": BackOff: Back-off restarting failed container helm in pod " + pod
	if cs.State != bringup.StateFailed || cs.Reason != reason {
		t.Errorf("%s: %s: %s\nwant failed: %s", cs.Name, cs.State, cs.Reason, reason)
	}
	for _, want := range wantDetail {
		if !slices.Contains(cs.Detail, want) {
			t.Errorf("%s: detail lacks %q:\n%s", cs.Name, want, strings.Join(cs.Detail, "\n"))
		}
	}
}

func platformComponent(t *testing.T, p payload.Platform, name string) payload.PlatformComponent {
	t.Helper()
	for _, pc := range p.Components {
		if pc.Name == name {
			return pc
		}
	}
	t.Fatalf("no component %s in the platform manifest", name)
	return payload.PlatformComponent{}
}

var helmChartResource = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

// waitInstallJob waits for helm-controller to make the HelmChart's install
// Job and name it in the HelmChart's status.
func (c *cluster) waitInstallJob(name string) *batchv1.Job {
	c.t.Helper()
	jobName := "helm-install-" + name
	deadline := time.Now().Add(time.Minute)
	for {
		job, err := c.core.BatchV1().Jobs(payload.HelmChartNamespace).Get(c.ctx, jobName, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			c.t.Fatalf("get job %s: %v", jobName, err)
		}
		hc, herr := c.dyn.Resource(helmChartResource).Namespace(payload.HelmChartNamespace).Get(c.ctx, name, metav1.GetOptions{})
		c.check("get HelmChart "+name, herr)
		status, _, _ := unstructured.NestedString(hc.Object, "status", "jobName")
		if err == nil && status == jobName {
			return job
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("HelmChart %s: no install job %s named in its status after a minute (job: %v; status: %v)", name, jobName, err, hc.Object["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkJobsKept checks helm-controller did not replace a finished Job (it
// would run the install again).
func (c *cluster) checkJobsKept(jobs map[string]*batchv1.Job) {
	c.t.Helper()
	time.Sleep(2 * time.Second) // let helm-controller handle the Jobs' last changes
	for name, old := range jobs {
		job, err := c.core.BatchV1().Jobs(old.Namespace).Get(c.ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			c.t.Errorf("%s: %v", name, err)
			continue
		}
		if job.UID != old.UID {
			c.t.Errorf("%s: helm-controller replaced job %s after it finished", name, job.Name)
		}
	}
}
