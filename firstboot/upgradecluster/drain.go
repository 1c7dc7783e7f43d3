package upgradecluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// The drain follows `kubectl drain --ignore-daemonsets
// --delete-emptydir-data --force` (k8s.io/kubectl v0.37 pkg/drain, read,
// not imported: it brings cli-runtime and kustomize, some 140 packages,
// into the node agent):
//
//   - the node's pods are listed by spec.nodeName (GetPodsForDeletion);
//   - mirror pods (the kubelet's static pods) and running DaemonSet pods
//     stay (filters.go, mirrorPodFilter, daemonSetFilter): the DaemonSet
//     controller would recreate them on the cordoned node anyway;
//   - every other pod is evicted through the Eviction API, so the API
//     server checks its PodDisruptionBudget; a refusal (429 Too Many
//     Requests) is retried until the drain's timeout, as is an eviction in
//     a terminating namespace; a pod already gone counts as evicted
//     (drain.go, evictPods);
//   - then it waits until each evicted pod is gone, or replaced by a pod
//     of the same name and another UID (waitForDelete).
//
// Pods with emptyDir volumes and pods no controller owns are evicted too
// (as with --delete-emptydir-data and --force; rancher/system-upgrade-
// controller's example K3s plans drain with force as well): the node
// reboots, and a pod left on it would not run until it is back. A pod
// without a controller is not recreated elsewhere; the drain says so.

// drainResult counts what a drain did.
type drainResult struct {
	Evicted int // pods evicted and gone
	Kept    int // DaemonSet and mirror pods left on the node
}

// drainer drains one node.
type drainer struct {
	client kubernetes.Interface
	node   string
	// retry is the pause between attempts of an eviction the API server
	// refused for now, and between checks that evicted pods are gone
	// (kubectl: EvictErrorRetryDelay, 5 s by default, and 1 s).
	retry time.Duration
	say   func(format string, args ...any)
}

// drain evicts the node's pods within timeout.
func (d drainer) drain(ctx context.Context, timeout time.Duration) (drainResult, error) {
	pods, err := d.pods(ctx)
	if err != nil {
		return drainResult{}, err
	}
	var evict []corev1.Pod
	var res drainResult
	for _, p := range pods {
		if stays(p) {
			res.Kept++
			continue
		}
		if metav1.GetControllerOf(&p) == nil && !terminal(p) {
			d.say("pod %s/%s has no controller: it is evicted and not recreated elsewhere", p.Namespace, p.Name)
		}
		evict = append(evict, p)
	}
	if len(evict) == 0 {
		return res, nil
	}
	d.say("evicting %d pods (%d DaemonSet and mirror pods stay)", len(evict), res.Kept)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range evict {
		wg.Go(func() {
			if err := d.evictAndWait(ctx, p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return res, fmt.Errorf("drain node %s: %d of %d pods not evicted within %s: %w", d.node, len(errs), len(evict), timeout, errors.Join(errs...))
	}
	res.Evicted = len(evict)
	return res, nil
}

// pods lists the pods bound to the node, page by page.
func (d drainer) pods(ctx context.Context) ([]corev1.Pod, error) {
	opts := metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", d.node).String(),
		Limit:         500,
	}
	var pods []corev1.Pod
	for {
		list, err := d.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list the pods of node %s: %w", d.node, err)
		}
		pods = append(pods, list.Items...)
		if list.Continue == "" {
			return pods, nil
		}
		opts.Continue = list.Continue
	}
}

// stays says whether a drain leaves the pod on the node: a mirror pod, or
// a DaemonSet's pod that has not finished.
func stays(p corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	c := metav1.GetControllerOf(&p)
	return c != nil && c.Kind == "DaemonSet" && c.APIVersion == "apps/v1" && !terminal(p)
}

func terminal(p corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// evictAndWait evicts p, retrying what the API server refuses for now,
// and waits until it is gone.
func (d drainer) evictAndWait(ctx context.Context, p corev1.Pod) error {
	name := p.Namespace + "/" + p.Name
	pods := d.client.CoreV1().Pods(p.Namespace)
	said := false
	for {
		err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}})
		switch {
		case err == nil:
			return d.waitGone(ctx, p)
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) && p.DeletionTimestamp != nil:
			// Being deleted with its namespace: eviction cannot succeed
			// and need not.
			return d.waitGone(ctx, p)
		case apierrors.IsTooManyRequests(err), apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			if !said {
				d.say("pod %s: eviction refused for now, retrying every %s: %s", name, d.retry, oneLine(err.Error()))
				said = true
			}
			if ctxsleep.Sleep(ctx, d.retry) != nil {
				return fmt.Errorf("pod %s: eviction still refused: %w", name, err)
			}
		default:
			return fmt.Errorf("evict pod %s: %w", name, err)
		}
		if fresh, err := pods.Get(ctx, p.Name, metav1.GetOptions{}); err == nil {
			p = *fresh
		}
	}
}

// waitGone waits until p no longer exists (or its name is another pod's).
func (d drainer) waitGone(ctx context.Context, p corev1.Pod) error {
	for {
		cur, err := d.client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err), err == nil && cur.UID != p.UID:
			return nil
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("pod %s/%s: evicted, not gone: %w", p.Namespace, p.Name, ctx.Err())
		}
		if ctxsleep.Sleep(ctx, d.retry) != nil {
			return fmt.Errorf("pod %s/%s: evicted, still terminating", p.Namespace, p.Name)
		}
	}
}
