package bringup

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestReady plays a whole install: the HelmChart appears, its install job
// completes, the workloads of all three kinds roll out; the component is
// then ready with an endpoint per Service type. A second component whose
// HelmChart never appears fails on its own deadline meanwhile.
func TestReady(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ns := "ready-minio"
	c.namespace(ns)
	nodePortSvc := c.service(ns, "minio", corev1.ServiceTypeNodePort, 9000)
	lbSvc := c.service(ns, "minio-lb", corev1.ServiceTypeLoadBalancer, 9443)
	c.loadBalancerIngress(lbSvc, "192.0.2.10")
	c.service(ns, "minio-console", corev1.ServiceTypeClusterIP, 9001)

	platform := payload.Platform{Components: []payload.PlatformComponent{
		{
			Name: "minio", Namespace: ns, HelmChart: "ready-minio", Timeout: "1m",
			Workloads: []string{"Deployment/minio", "StatefulSet/minio-db", "DaemonSet/minio-agent"},
			Endpoints: []payload.Endpoint{
				{Name: "API", Service: "minio", Port: 9000, Scheme: "http", Path: "/minio"},
				{Name: "S3", Service: "minio-lb", Port: 9443, Scheme: "https"},
				{Name: "console", Service: "minio-console", Port: 9001, Scheme: "http"},
			},
			Credentials: "secret minio/minio-root",
		},
		{Name: "absent", Namespace: ns, HelmChart: "ready-absent", Timeout: "1s"},
	}}
	rec := newRecorder()
	wait := run(t, Options{
		Config: c.cfg, Platform: platform, NodeAddress: "10.0.0.10", Poll: testPoll,
		Logf: rec.logf, OnUpdate: rec.onUpdate,
	})

	rec.waitFor(t, "minio waiting for its HelmChart", componentIs(0, StateWaiting, "waiting for HelmChart kube-system/ready-minio"))
	c.helmChart("ready-minio", ns)
	rec.waitFor(t, "minio waiting for its job", componentIs(0, StateInstalling, "waiting for install job kube-system/helm-install-ready-minio"))
	job := c.installJob("helm-install-ready-minio")
	start := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	c.jobStatus(job, batchv1.JobStatus{Active: 1, StartTime: &start})
	rec.waitFor(t, "minio's job running", componentIs(0, StateInstalling, "install job kube-system/helm-install-ready-minio running"))

	dep := c.deployment(ns, "minio", 2)
	sts := c.statefulSet(ns, "minio-db", 1)
	ds := c.daemonSet(ns, "minio-agent")
	c.jobStatus(job, completedJob(start))
	rec.waitFor(t, "minio's deployment not observed", componentIs(0, StateInstalling, "waiting for Deployment ready-minio/minio: spec generation 1 not observed yet"))
	c.deploymentStatus(dep, 1)
	rec.waitFor(t, "minio's deployment 1 of 2", componentIs(0, StateInstalling, "waiting for Deployment ready-minio/minio: 2 of 2 replicas updated, 1 available"))
	c.deploymentStatus(dep, 2)
	c.statefulSetStatus(sts, 1)
	rec.waitFor(t, "minio's daemonset", componentIs(0, StateInstalling, "waiting for DaemonSet ready-minio/minio-agent"))
	c.daemonSetStatus(ds, 1, 1)

	final, err := wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if final.API != APIReady {
		t.Errorf("API = %q, want %q", final.API, APIReady)
	}
	minio := final.Components[0]
	wantEndpoints := []string{
		fmt.Sprintf("API: http://10.0.0.10:%d/minio", nodePortSvc.Spec.Ports[0].NodePort),
		"S3: https://192.0.2.10:9443",
		"console: kubectl -n ready-minio port-forward svc/minio-console 9001",
	}
	if minio.State != StateReady || minio.Reason != "" || !slices.Equal(minio.Endpoints, wantEndpoints) || minio.Credentials != "secret minio/minio-root" {
		t.Errorf("minio = %+v\nwant ready with endpoints %q and its credentials", minio, wantEndpoints)
	}
	absent := final.Components[1]
	if absent.State != StateFailed || absent.Reason != "HelmChart kube-system/ready-absent never appeared (waited 1s)" {
		t.Errorf("absent = %+v\nwant failed: HelmChart kube-system/ready-absent never appeared (waited 1s)", absent)
	}

	// One console line per state change, none for progress within a state
	// (minio starts waiting: that is no change).
	var minioLines []string
	for _, l := range rec.lines() {
		if strings.HasPrefix(l, "platform: minio ") {
			minioLines = append(minioLines, l)
		}
	}
	wantLines := []string{
		"platform: minio installing: waiting for install job kube-system/helm-install-ready-minio",
		"platform: minio ready  " + strings.Join(wantEndpoints, "  ") + "  (credentials: secret minio/minio-root)",
	}
	if !slices.Equal(minioLines, wantLines) {
		t.Errorf("console lines for minio:\n%s\nwant:\n%s", strings.Join(minioLines, "\n"), strings.Join(wantLines, "\n"))
	}
	if l := rec.lines(); len(l) < 2 || l[0] != "platform: waiting for the kubernetes API (up to 10m0s)" || l[1] != "platform: kubernetes API ready" {
		t.Errorf("console lines %q, want first the wait for the API (default timeout), then the API ready", l)
	}
}

// completedJob is the status the job controller gives a job started at
// start whose pod succeeded.
func completedJob(start metav1.Time) batchv1.JobStatus {
	now := metav1.Now()
	return batchv1.JobStatus{
		Succeeded: 1, StartTime: &start, CompletionTime: &now,
		Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
}

// TestAPINotUp points Run at a closed port: it gives up after APITimeout
// with an error naming the failure, and the components stay waiting.
func TestAPINotUp(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rec := newRecorder()
	s, err := Run(t.Context(), Options{
		Config:     &rest.Config{Host: "http://" + addr},
		Platform:   payload.Platform{Components: []payload.PlatformComponent{{Name: "minio", Namespace: "minio", HelmChart: "minio"}}},
		APITimeout: 500 * time.Millisecond, Poll: testPoll,
		Logf: rec.logf, OnUpdate: rec.onUpdate,
	})
	if err == nil {
		t.Fatal("Run with no API server returned no error")
	}
	for _, want := range []string{"kubernetes API not reachable after 500ms", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if s.API != err.Error() {
		t.Errorf("Status.API = %q, want the error %q", s.API, err)
	}
	if len(s.Components) != 1 || s.Components[0].State != StateWaiting {
		t.Errorf("components = %+v, want minio still waiting", s.Components)
	}
	wantLines := []string{"platform: waiting for the kubernetes API (up to 500ms)", "platform: " + err.Error()}
	if l := rec.lines(); !slices.Equal(l, wantLines) {
		t.Errorf("console lines %q, want %q", l, wantLines)
	}
}
