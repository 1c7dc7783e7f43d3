package upgradecluster

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// DefaultWatchPoll is WatchOptions.Poll's default.
const DefaultWatchPoll = 10 * time.Second

// WatchOptions configures Watch.
type WatchOptions struct {
	// BootID is this boot's /proc/sys/kernel/random/boot_id: the
	// orchestrator trusts only annotations published in the boot the
	// kubelet reports.
	BootID string
	// Poll is how often Local's state is read again (its boot check
	// blesses a new release after Watch started) and the pause before a
	// request the API server failed is tried again (DefaultWatchPoll).
	Poll time.Duration
	// Logf, if set, gets one "upgrade-watch: ..." line per action.
	Logf func(format string, args ...any)
}

// Watch publishes the node's state on its own Node (release, medium,
// boot, last result) and keeps it current, and acts on what the
// orchestrator asks of the node, once per release: a disk node applies
// the bundle (local.Apply) and reboots, a netbooted node reboots. It
// returns nil once it asked the system to reboot, and ctx's error when
// ctx ends; a failing API server is retried (K3s may still be starting).
//
// It needs only what a kubelet may do (Kubernetes v1.36, with K3s's
// --authorization-mode=Node,RBAC and --enable-admission-plugins=
// NodeRestriction, k3s-io/k3s pkg/daemons/control/server.go, apiServer):
// the Node authorizer lets a node get, list and watch its own Node, by
// name or with the field selector metadata.name (plugin/pkg/auth/
// authorizer/node/node_authorizer.go, authorizeNode; the selector becomes
// the request's name in k8s.io/apiserver pkg/endpoints/request/
// requestinfo.go), and patch Nodes; NodeRestriction limits the patch to
// its own Node and forbids changing taints, ownerReferences and
// node-restriction labels, not annotations (plugin/pkg/admission/
// noderestriction/admission.go, admitNode). So it runs with the kubelet's
// kubeconfig, as TestWatchWithTheKubeletsCredentials checks.
func Watch(ctx context.Context, client kubernetes.Interface, nodeName string, local Local, opts WatchOptions) error {
	if opts.Poll <= 0 {
		opts.Poll = DefaultWatchPoll
	}
	if opts.BootID == "" {
		return fmt.Errorf("upgrade watch: node %s: no boot ID", nodeName)
	}
	w := &watcher{client: client, node: nodeName, local: local, opts: opts}
	for {
		n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err == nil {
			var rebooting bool
			rebooting, err = w.step(ctx, n)
			if rebooting {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			w.problem(err)
			if err := ctxsleep.Sleep(ctx, opts.Poll); err != nil {
				return err
			}
			continue
		}
		w.waitChange(ctx, n.ResourceVersion)
	}
}

// watcher is one Watch's state.
type watcher struct {
	client   kubernetes.Interface
	node     string
	local    Local
	opts     WatchOptions
	lastErr  string
	saidLive bool
}

// step publishes the node's state and acts on a request in n.
func (w *watcher) step(ctx context.Context, n *corev1.Node) (rebooting bool, err error) {
	release, medium := w.local.Release(), w.local.Medium()
	if err := checkRelease("this node's release", release); err != nil {
		return false, err
	}
	if medium != MediumDisk && medium != MediumNetboot && medium != MediumLive {
		return false, fmt.Errorf("this node's boot medium %q: want %s, %s or %s", medium, MediumDisk, MediumNetboot, MediumLive)
	}
	ann := maps.Clone(n.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	want := map[string]string{AnnotationRelease: release, AnnotationMedium: medium, AnnotationBootID: w.opts.BootID}
	if res := w.local.LastResult(); res.Release != "" {
		maps.Copy(want, resultAnnotations(res))
	}
	if err := w.publish(ctx, ann, want); err != nil {
		return false, err
	}
	v := viewNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Annotations: ann}})
	switch medium {
	case MediumDisk:
		if !wanted(v.Wanted, release, v.Result) {
			return false, nil
		}
		return w.apply(ctx, ann, v.Wanted, v.BundleURL)
	case MediumNetboot:
		if !wanted(v.RebootRequest, release, v.Result) {
			return false, nil
		}
		return w.reboot(ctx, ann, v.RebootRequest, "asked for "+v.RebootRequest+", which the initial server's OS image brings")
	}
	if asked := (v.Wanted != "" && v.Wanted != release) || (v.RebootRequest != "" && v.RebootRequest != release); asked && !w.saidLive {
		w.logf("upgrade-watch: this node boots %s: it cannot be upgraded in place (re-image it)", medium)
		w.saidLive = true
	}
	return false, nil
}

// wanted says whether the orchestrator asks for a release this node does
// not run and has not tried (last is the node's record, or else its
// Node's): a release is tried once, even an attempt cut short.
func wanted(release, running string, last Result) bool {
	return release != "" && release != running && last.Release != release
}

// apply applies the wanted release and reboots into it.
func (w *watcher) apply(ctx context.Context, ann map[string]string, release, url string) (bool, error) {
	if err := checkRelease("wanted release", release); err != nil {
		return false, w.publishResult(ctx, ann, Result{Release: release, State: StateFailed, Reason: err.Error()})
	}
	if err := checkBundleURL(url); err != nil {
		return false, w.publishResult(ctx, ann, Result{Release: release, State: StateFailed, Reason: err.Error()})
	}
	if err := w.publishResult(ctx, ann, Result{Release: release, State: StateApplying}); err != nil {
		return false, err
	}
	w.logf("upgrade-watch: applying %s from %s", release, url)
	if err := w.local.Apply(ctx, url); err != nil {
		w.logf("upgrade-watch: apply %s: %v", release, err)
		// Recorded even when ctx ended (the unit was stopped): the
		// orchestrator then stops with the reason instead of timing out.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.Poll)
		defer cancel()
		return false, w.publishResult(ctx, ann, Result{Release: release, State: StateFailed, Reason: err.Error()})
	}
	return w.reboot(ctx, ann, release, "applied "+release)
}

// reboot records the attempt of release and reboots; why is for the log.
func (w *watcher) reboot(ctx context.Context, ann map[string]string, release, why string) (bool, error) {
	if err := checkRelease("requested release", release); err != nil {
		return false, w.publishResult(ctx, ann, Result{Release: release, State: StateFailed, Reason: err.Error()})
	}
	if err := w.publishResult(ctx, ann, Result{Release: release, State: StateApplied}); err != nil {
		return false, err
	}
	w.logf("upgrade-watch: %s: rebooting", why)
	if err := w.local.Reboot(); err != nil {
		return false, w.publishResult(ctx, ann, Result{Release: release, State: StateFailed, Reason: "reboot: " + err.Error()})
	}
	return true, nil
}

func resultAnnotations(r Result) map[string]string {
	return map[string]string{
		AnnotationResultRelease: r.Release,
		AnnotationResult:        string(r.State),
		AnnotationResultReason:  oneLine(r.Reason),
	}
}

func (w *watcher) publishResult(ctx context.Context, ann map[string]string, r Result) error {
	return w.publish(ctx, ann, resultAnnotations(r))
}

// publish patches the annotations of want that differ from ann (the
// Node's), and records them in ann.
func (w *watcher) publish(ctx context.Context, ann, want map[string]string) error {
	set := map[string]*string{}
	for k, v := range want {
		if cur, ok := ann[k]; !ok || cur != v {
			set[k] = strp(v)
		}
	}
	if len(set) == 0 {
		return nil
	}
	if err := annotate(ctx, w.client, w.node, set); err != nil {
		return err
	}
	maps.Copy(ann, want)
	return nil
}

// waitChange returns when the Node changes after resourceVersion, after
// the poll interval, or when ctx ends.
func (w *watcher) waitChange(ctx context.Context, resourceVersion string) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Poll)
	defer cancel()
	wi, err := w.client.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", w.node).String(),
		ResourceVersion: resourceVersion,
	})
	if err != nil {
		w.problem(fmt.Errorf("watch node %s: %w", w.node, err))
		<-ctx.Done()
		return
	}
	defer wi.Stop()
	select {
	case <-wi.ResultChan():
	case <-ctx.Done():
	}
}

// problem logs an error once until another one replaces it.
func (w *watcher) problem(err error) {
	if s := err.Error(); s != w.lastErr {
		w.logf("upgrade-watch: %s (retrying every %s)", s, w.opts.Poll)
		w.lastErr = s
	}
}

func (w *watcher) logf(format string, args ...any) {
	if w.opts.Logf != nil {
		w.opts.Logf(format, args...)
	}
}
