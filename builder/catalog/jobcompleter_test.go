package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// jobCompleter is a TEST DOUBLE for the Job controller and kubelet, which
// do not run here: it marks every Job on the server succeeded, as the Job
// controller does when its pods succeed (status.succeeded, startTime,
// completionTime, and the SuccessCriteriaMet then Complete conditions the
// API server's Job status validation asks for), and every Pod that has
// not finished Succeeded. Helm waits for hook Jobs and Pods on exactly
// these (helm.sh/helm/v4 v4.1.4 internal/statusreaders: a Job is done at
// condition Complete=True, a Pod at phase Succeeded). It does not run
// anything: what a hook would have done is not checked.
type jobCompleter struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	errs   []error
	jobs   int
}

// startJobCompleter starts completing Jobs and Pods every 200 ms until
// stop.
func startJobCompleter(cs kubernetes.Interface) *jobCompleter {
	ctx, cancel := context.WithCancel(context.Background())
	j := &jobCompleter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			j.pass(ctx, cs)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return j
}

// stop stops the completer and reports what it could not do.
func (j *jobCompleter) stop(t *testing.T) {
	t.Helper()
	j.cancel()
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	t.Logf("job completer (test double): %d hook Jobs marked complete", j.jobs)
	if err := errors.Join(j.errs...); err != nil {
		t.Errorf("job completer (test double): %v", err)
	}
}

func (j *jobCompleter) fail(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.errs = append(j.errs, err)
}

func (j *jobCompleter) pass(ctx context.Context, cs kubernetes.Interface) {
	jobs, err := cs.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return // the server is stopping, or will answer next time
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if finished(job) {
			continue
		}
		complete(job)
		if _, err := cs.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			if ctx.Err() == nil {
				j.fail(fmt.Errorf("mark Job %s/%s complete: %w", job.Namespace, job.Name, err))
			}
			continue
		}
		j.mu.Lock()
		j.jobs++
		j.mu.Unlock()
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		pod.Status.Phase = corev1.PodSucceeded
		if _, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			j.fail(fmt.Errorf("mark Pod %s/%s succeeded: %w", pod.Namespace, pod.Name, err))
		}
	}
}

func finished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// complete sets the status the Job controller writes for a Job whose
// pods all succeeded.
func complete(job *batchv1.Job) {
	now := metav1.Now()
	completions := int32(1)
	if job.Spec.Completions != nil {
		completions = *job.Spec.Completions
	}
	zero := int32(0)
	job.Status.StartTime = &now
	job.Status.CompletionTime = &now
	job.Status.Active = 0
	job.Status.Succeeded = completions
	job.Status.Ready = &zero
	job.Status.Terminating = &zero
	job.Status.Conditions = append(job.Status.Conditions,
		batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "CompletionsReached"},
		batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "CompletionsReached"},
	)
}
