package upgradecluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Defaults of Plan.
const (
	// DefaultNodeTimeout bounds one node's upgrade from the request to
	// Ready on the new release: fetching and writing a bundle of a few GB,
	// a reboot, and the boot check, which on the initial server waits for
	// the platform.
	DefaultNodeTimeout = 30 * time.Minute
	// DefaultDrainTimeout bounds a node's drain.
	DefaultDrainTimeout = 10 * time.Minute
	// DefaultPoll is the pause between checks of a node and of evicted
	// pods, and between attempts of a refused eviction.
	DefaultPoll = 5 * time.Second
)

// Plan is one cluster upgrade.
type Plan struct {
	// Release is the release every node is to run.
	Release string
	// BundleURL is the bundle's manifest URL the disk nodes fetch.
	BundleURL string
	// BundleDir is the served directory, kept in the progress file so a
	// resumed run serves it again.
	BundleDir string
	// Self is this node's name: the initial server, upgraded first.
	Self string
	// ProgressPath is the progress file (StateDir/ProgressFile).
	ProgressPath string
	// NodeTimeout, DrainTimeout and Poll default to DefaultNodeTimeout,
	// DefaultDrainTimeout and DefaultPoll.
	NodeTimeout, DrainTimeout, Poll time.Duration
	// Logf, if set, gets one "upgrade: ..." line per step.
	Logf func(format string, args ...any)
}

// Run upgrades the cluster's nodes one at a time (see the package doc)
// and returns nil once every node runs plan.Release, except live nodes,
// which it skips. It stops at the first node whose attempt rolled back or
// failed, uncordoned, with an error naming it and its reason; the nodes
// after it are not touched. A node not upgraded within the node timeout
// stays cordoned and is waited for again by the next Run.
func Run(ctx context.Context, client kubernetes.Interface, plan Plan) error {
	r, err := newRun(plan, client)
	if err != nil {
		return err
	}
	if err := r.start(); err != nil {
		return err
	}
	nodes, err := r.nodes(ctx)
	if err != nil {
		return err
	}
	r.logOrder(nodes)
	var live []string
	for _, listed := range nodes {
		v, err := r.get(ctx, listed.Name)
		if err != nil {
			return err
		}
		if r.prog.done(v.Name) {
			if upgraded(v, plan.Release) {
				r.logf("upgrade: node %s: on %s (done earlier)", v.Name, plan.Release)
				continue
			}
			r.logf("upgrade: node %s: done earlier, now %s: upgrading it again", v.Name, describe(v))
			r.prog.Done = slices.DeleteFunc(r.prog.Done, func(n string) bool { return n == v.Name })
		}
		resume := r.prog.Current != nil && r.prog.Current.Node == v.Name
		switch {
		case v.Medium == MediumLive:
			r.logf("upgrade: node %s: boots live (CD or USB stick): skipped, re-image it to upgrade it", v.Name)
			live = append(live, v.Name)
			continue
		case !resume && upgraded(v, plan.Release):
			r.logf("upgrade: node %s: already on %s", v.Name, plan.Release)
			if err := r.markDone(v.Name); err != nil {
				return err
			}
			continue
		}
		if err := r.upgradeNode(ctx, v); err != nil {
			return err
		}
	}
	r.logf("upgrade: done: %d nodes on %s", len(r.prog.Done), plan.Release)
	if len(live) > 0 {
		r.logf("upgrade: not upgraded (live): %s", strings.Join(live, ", "))
	}
	return nil
}

// run is one Run's state.
type run struct {
	plan   Plan
	client kubernetes.Interface
	prog   Progress
}

func newRun(plan Plan, client kubernetes.Interface) (*run, error) {
	if err := checkRelease("release", plan.Release); err != nil {
		return nil, fmt.Errorf("cluster upgrade: %w", err)
	}
	if err := checkBundleURL(plan.BundleURL); err != nil {
		return nil, fmt.Errorf("cluster upgrade: %w", err)
	}
	if plan.Self == "" || plan.ProgressPath == "" {
		return nil, errors.New("cluster upgrade: plan names no node (Self) or no progress file")
	}
	plan.NodeTimeout = cmpOr(plan.NodeTimeout, DefaultNodeTimeout)
	plan.DrainTimeout = cmpOr(plan.DrainTimeout, DefaultDrainTimeout)
	plan.Poll = cmpOr(plan.Poll, DefaultPoll)
	return &run{plan: plan, client: client}, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// start takes up the progress of an earlier run of the same release, or
// starts afresh; it refuses to leave a run of another release in the
// middle of a node.
func (r *run) start() error {
	prev, ok, err := ReadProgress(r.plan.ProgressPath)
	if err != nil {
		return err
	}
	switch {
	case ok && prev.Release == r.plan.Release:
		r.prog = prev
		if prev.Current != nil {
			r.logf("upgrade: resuming the upgrade to %s at node %s (%s)", prev.Release, prev.Current.Node, prev.Current.Step)
		}
	case ok && prev.Current != nil:
		return fmt.Errorf("cluster upgrade: the upgrade to %s is unfinished at node %s (%s): run `firstboot upgrade cluster` without a bundle to finish it first",
			prev.Release, prev.Current.Node, prev.Current.Step)
	}
	r.prog.Release, r.prog.BundleURL, r.prog.BundleDir, r.prog.Stopped = r.plan.Release, r.plan.BundleURL, r.plan.BundleDir, ""
	return r.save()
}

// nodes lists the cluster's nodes in upgrade order (the node of an
// unfinished step first), after checking that every node's watcher
// publishes its state: a node without one would never answer.
func (r *run) nodes(ctx context.Context) ([]nodeView, error) {
	list, err := r.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster upgrade: list nodes: %w", err)
	}
	var views []nodeView
	var silent []string
	for i := range list.Items {
		v := viewNode(&list.Items[i])
		if v.Release == "" || !slices.Contains([]string{MediumDisk, MediumNetboot, MediumLive}, v.Medium) {
			silent = append(silent, v.Name)
		}
		views = append(views, v)
	}
	if len(silent) > 0 {
		return nil, fmt.Errorf("cluster upgrade: nodes %s publish no release and boot medium (annotations %s, %s): is appliance-upgrade-watch.service running there?",
			strings.Join(silent, ", "), AnnotationRelease, AnnotationMedium)
	}
	ordered, err := upgradeOrder(views, r.plan.Self)
	if err != nil {
		return nil, fmt.Errorf("cluster upgrade: %w", err)
	}
	if c := r.prog.Current; c != nil {
		if i := slices.IndexFunc(ordered, func(v nodeView) bool { return v.Name == c.Node }); i > 0 {
			ordered = append(append([]nodeView{ordered[i]}, ordered[:i]...), ordered[i+1:]...)
		}
	}
	return ordered, nil
}

func (r *run) logOrder(nodes []nodeView) {
	var servers, agents []string
	for _, v := range nodes {
		name := v.Name
		if name == r.plan.Self {
			name += " (this node)"
		}
		if v.Server {
			servers = append(servers, name)
		} else {
			agents = append(agents, name)
		}
	}
	r.logf("upgrade: to %s, one node at a time: servers %s; agents %s", r.plan.Release, orNone(strings.Join(servers, ", ")), orNone(strings.Join(agents, ", ")))
}

// get reads one node.
func (r *run) get(ctx context.Context, name string) (nodeView, error) {
	n, err := r.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nodeView{}, fmt.Errorf("cluster upgrade: read node %s: %w", name, err)
	}
	return viewNode(n), nil
}

func (r *run) markDone(node string) error {
	r.prog.Done = append(r.prog.Done, node)
	r.prog.Current = nil
	return r.save()
}

func (r *run) save() error { return writeProgress(r.plan.ProgressPath, r.prog) }

func (r *run) logf(format string, args ...any) {
	if r.plan.Logf != nil {
		r.plan.Logf(format, args...)
	}
}
