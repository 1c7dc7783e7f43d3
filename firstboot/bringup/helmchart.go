package bringup

import (
	"context"
	"fmt"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// helmChartResource is K3s helm-controller's HelmChart.
var helmChartResource = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

// installJobPrefix + HelmChart name is the install Job's name when the
// HelmChart's status does not name it (helm-controller's jobName: "helm-" +
// "install" or, while the chart is being deleted, "delete" + "-" + name).
const installJobPrefix = "helm-install-"

// waitForHelmChart waits for the component's HelmChart to exist.
func (w *watcher) waitForHelmChart(ctx context.Context, timeout time.Duration) *failure {
	name := payload.HelmChartNamespace + "/" + w.component.HelmChart
	w.set(StateWaiting, "waiting for HelmChart "+name, nil)
	var last error
	found, f := pollUntil(ctx, w.poll, func(ctx context.Context) (bool, *failure) {
		_, err := w.helmChart(ctx)
		if err == nil {
			return true, nil
		}
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			last = err
		}
		return false, nil
	})
	if found || f != nil {
		return f
	}
	return &failure{Reason: withLastError(fmt.Sprintf("HelmChart %s never appeared (waited %s)", name, timeout), last)}
}

func (w *watcher) helmChart(ctx context.Context) (*unstructured.Unstructured, error) {
	return w.dyn.Resource(helmChartResource).Namespace(payload.HelmChartNamespace).Get(ctx, w.component.HelmChart, metav1.GetOptions{})
}

// waitForInstallJob waits for the HelmChart's install Job to complete. A
// failed Job, or a HelmChart whose Failed condition is True (helm-controller
// gave up), fails at once; parent is the context of the diagnostics
// gathered after wctx, the component's deadline, passed.
func (w *watcher) waitForInstallJob(parent, wctx context.Context, timeout time.Duration) *failure {
	jobName := installJobPrefix + w.component.HelmChart
	var job *batchv1.Job
	var last error
	done, f := pollUntil(wctx, w.poll, func(ctx context.Context) (bool, *failure) {
		chart, err := w.helmChart(ctx)
		if err != nil {
			if ctx.Err() == nil {
				last = err
			}
			return false, nil
		}
		if n, _, _ := unstructured.NestedString(chart.Object, "status", "jobName"); n != "" {
			jobName = n
		}
		j, err := w.core.BatchV1().Jobs(payload.HelmChartNamespace).Get(ctx, jobName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			job = nil
		case err != nil:
			if ctx.Err() == nil {
				last = err
			}
			return false, nil
		default:
			job = j
		}
		if reason, failed := helmChartFailed(chart); failed {
			return false, w.installFailure(parent, job, fmt.Sprintf("HelmChart %s/%s failed: %s", payload.HelmChartNamespace, w.component.HelmChart, reason))
		}
		if job == nil {
			w.set(StateInstalling, fmt.Sprintf("waiting for install job %s/%s", payload.HelmChartNamespace, jobName), nil)
			return false, nil
		}
		if c := jobCondition(job, batchv1.JobComplete); c != nil {
			return true, nil
		}
		if c := jobCondition(job, batchv1.JobFailed); c != nil {
			return false, w.installFailure(parent, job, fmt.Sprintf("install job %s/%s failed: %s", job.Namespace, job.Name, c.Reason))
		}
		reason := fmt.Sprintf("install job %s/%s running", job.Namespace, job.Name)
		if n := w.failedAttempts(ctx, job); n > 0 {
			reason += fmt.Sprintf(" (%d failed attempts)", n)
		}
		w.set(StateInstalling, reason, nil)
		return false, nil
	})
	if done || f != nil || parent.Err() != nil {
		return f
	}
	if job == nil {
		return &failure{Reason: withLastError(fmt.Sprintf("timed out after %s waiting for install job %s/%s to appear", timeout, payload.HelmChartNamespace, jobName), last)}
	}
	return w.installFailure(parent, job, withLastError(fmt.Sprintf("timed out after %s waiting for install job %s/%s", timeout, job.Namespace, job.Name), last))
}

// failedAttempts counts a running install job's failed attempts: its
// failed pods and the restarts of its pods' containers. helm-controller's
// install pods restart in place (restartPolicy OnFailure, k3s-io/
// helm-controller v0.17.1 pkg/controllers/chart/chart.go job()), so a
// failing install counts no failed pod for a long time (backoffLimit 1000).
// Pods that cannot be listed count as none.
func (w *watcher) failedAttempts(ctx context.Context, job *batchv1.Job) int32 {
	n := job.Status.Failed
	pods, err := jobPods(ctx, w.core, job)
	if err != nil {
		return n
	}
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			n += cs.RestartCount
		}
	}
	return n
}

// installFailure is a failed install: reason, then the job's detail, with
// its latest warning events added to the reason.
func (w *watcher) installFailure(parent context.Context, job *batchv1.Job, reason string) *failure {
	if job == nil {
		return &failure{Reason: reason}
	}
	ctx, cancel := context.WithTimeout(parent, diagnosticsTimeout)
	defer cancel()
	d := jobDiagnostics(ctx, w.core, job)
	if len(d.warnings) > 0 {
		reason += "; events: " + joinLast(d.warnings, 2, "; ")
	}
	return &failure{Reason: reason, Detail: d.detail}
}

// helmChartFailed reports the HelmChart's Failed condition, when True.
func helmChartFailed(chart *unstructured.Unstructured) (string, bool) {
	conds, _, _ := unstructured.NestedSlice(chart.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Failed" || m["status"] != string(corev1.ConditionTrue) {
			continue
		}
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return joinNonEmpty(": ", reason, msg), true
	}
	return "", false
}

// jobCondition returns the job's condition of type t when it is True.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i, c := range job.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}
