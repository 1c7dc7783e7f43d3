package bringup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// Limits of a failed install's detail.
const (
	// diagnosedPods is how many of the job's latest pods have their events
	// listed.
	diagnosedPods = 3
	// logTailLines is how many log lines of the latest pod are kept.
	logTailLines = 20
)

// diagnosis is what went wrong with an install job: detail lines (job
// counts and conditions, events of the job and its latest pods, the last
// log lines of the latest pod) and the warning events among them.
type diagnosis struct {
	detail   []string
	warnings []string
}

// jobDiagnostics gathers a job's diagnosis. An API error costs the lines
// it would have given and adds one saying so; it never fails the caller.
func jobDiagnostics(ctx context.Context, core kubernetes.Interface, job *batchv1.Job) diagnosis {
	var d diagnosis
	d.detail = append(d.detail, fmt.Sprintf("job %s/%s: %d active, %d succeeded, %d failed",
		job.Namespace, job.Name, job.Status.Active, job.Status.Succeeded, job.Status.Failed))
	for _, c := range job.Status.Conditions {
		d.detail = append(d.detail, fmt.Sprintf("job condition %s=%s: %s", c.Type, c.Status, joinNonEmpty(": ", c.Reason, c.Message)))
	}
	d.addEvents(ctx, core, job.Namespace, "Job", job.Name)

	pods, err := jobPods(ctx, core, job)
	if err != nil {
		d.detail = append(d.detail, err.Error())
		return d
	}
	if len(pods) == 0 {
		d.detail = append(d.detail, fmt.Sprintf("job %s/%s has no pods", job.Namespace, job.Name))
		return d
	}
	for _, p := range pods[max(0, len(pods)-diagnosedPods):] {
		d.detail = append(d.detail, podLine(p))
		d.addEvents(ctx, core, p.Namespace, "Pod", p.Name)
	}
	d.detail = append(d.detail, logTail(ctx, core, pods[len(pods)-1])...)
	return d
}

// jobPods lists the job's pods, oldest first.
func jobPods(ctx context.Context, core kubernetes.Interface, job *batchv1.Job) ([]corev1.Pod, error) {
	if job.Spec.Selector == nil {
		return nil, fmt.Errorf("job %s/%s has no pod selector", job.Namespace, job.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s pod selector: %w", job.Namespace, job.Name, err)
	}
	list, err := core.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	pods := list.Items
	slices.SortStableFunc(pods, func(a, b corev1.Pod) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return pods, nil
}

func podLine(p corev1.Pod) string {
	line := fmt.Sprintf("pod %s: %s", p.Name, cmp.Or(p.Status.Phase, corev1.PodPending))
	if p.Spec.NodeName != "" {
		line += " on " + p.Spec.NodeName
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			line += fmt.Sprintf(", container %s waiting: %s", cs.Name, joinNonEmpty(": ", cs.State.Waiting.Reason, cs.State.Waiting.Message))
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			line += fmt.Sprintf(", container %s terminated: exit code %d %s", cs.Name, t.ExitCode, joinNonEmpty(": ", t.Reason, t.Message))
		}
	}
	return strings.TrimSpace(line)
}

// addEvents adds the events about one object, oldest first.
func (d *diagnosis) addEvents(ctx context.Context, core kubernetes.Interface, namespace, kind, name string) {
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	list, err := core.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		d.detail = append(d.detail, fmt.Sprintf("events of %s %s/%s unavailable: %v", kind, namespace, name, err))
		return
	}
	events := list.Items
	slices.SortStableFunc(events, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	for _, e := range events {
		line := fmt.Sprintf("event %s %s: %s %s: %s", kind, name, e.Type, e.Reason, strings.TrimSpace(e.Message))
		if e.Count > 1 {
			line += fmt.Sprintf(" (x%d)", e.Count)
		}
		d.detail = append(d.detail, line)
		if e.Type == corev1.EventTypeWarning {
			d.warnings = append(d.warnings, fmt.Sprintf("%s %s: %s: %s", kind, name, e.Reason, strings.TrimSpace(e.Message)))
		}
	}
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// logTail is the last lines of the pod's first container's log, or a line
// saying why there are none (no kubelet serves them before the pod is
// scheduled, or after its node went away).
func logTail(ctx context.Context, core kubernetes.Interface, p corev1.Pod) []string {
	if p.Spec.NodeName == "" {
		return []string{fmt.Sprintf("no logs of pod %s: not scheduled to a node", p.Name)}
	}
	opts := &corev1.PodLogOptions{TailLines: new(int64(logTailLines))}
	if len(p.Spec.Containers) > 0 {
		opts.Container = p.Spec.Containers[0].Name
	}
	raw, err := core.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).DoRaw(ctx)
	if err != nil {
		return []string{fmt.Sprintf("logs of pod %s unavailable: %v", p.Name, err)}
	}
	text := strings.TrimRight(string(raw), "\n")
	if text == "" {
		return []string{fmt.Sprintf("log of pod %s is empty", p.Name)}
	}
	var lines []string
	for l := range strings.SplitSeq(text, "\n") {
		lines = append(lines, fmt.Sprintf("log %s: %s", p.Name, l))
	}
	return lines
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// joinLast joins the last n of s with sep.
func joinLast(s []string, n int, sep string) string {
	return strings.Join(s[max(0, len(s)-n):], sep)
}
