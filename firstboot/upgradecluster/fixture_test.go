package upgradecluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/kubetest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// TestMain runs one API server for every test of this package that calls
// kubetest.Shared. Nodes are cluster-wide: each test names its nodes with
// a prefix of its own and deletes them when it ends, so Run, which takes
// every node of the cluster, sees only the test's.
func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// testPoll is every poll interval in the tests.
const testPoll = 50 * time.Millisecond

// testURL is the bundle URL of the tests' plans.
const testURL = "http://192.0.2.1:8081/lab-upgrade/manifest.json"

// cluster is the shared API server, and the test playing the kubelets
// and the nodes' reboots on it.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	prefix string
	// progress is the test's progress file.
	progress string
	log      *lines
	// applied records the nodes in the order they called Apply.
	applied *lines
	nodes   []*nodeDouble
	// served is the release of the bundle and of the OS image the initial
	// server serves (what an Apply writes and a netbooted node boots).
	served atomic.Value
}

var clusters atomic.Int32

func newCluster(t *testing.T) *cluster {
	t.Helper()
	client, err := kubernetes.NewForConfig(kubetest.Shared(t))
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, ctx: t.Context(), client: client, log: &lines{}, applied: &lines{},
		prefix: fmt.Sprintf("c%d-", clusters.Add(1)), progress: filepath.Join(t.TempDir(), ProgressFile)}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.client.CoreV1().Nodes().Delete(context.Background(), n.name, metav1.DeleteOptions{})
		}
	})
	return c
}

// nodeSpec is a node of a test cluster.
type nodeSpec struct {
	name    string // without the cluster's prefix
	server  bool
	medium  string // MediumDisk when ""
	release string // "1.0.0" when ""
	// comeBack is what the node runs after its next reboot: the release it
	// was asked for when "", or this one, reporting back.
	comeBack Result
	// checkFails, if set, has the node come back on the new release with
	// its boot check running, which then fails for this reason: the slot
	// is marked bad and the node reboots into the old one.
	checkFails string
}

// node creates a Ready node running its watcher (Watch with a
// localDouble), and plays its kubelet: it deletes the node's pods the API
// server marked for deletion, as the kubelet's status manager does once
// their containers stopped (k8s.io/kubernetes pkg/kubelet/status/
// status_manager.go, syncPod: Delete with grace period 0).
func (c *cluster) node(spec nodeSpec) *nodeDouble {
	c.t.Helper()
	if spec.medium == "" {
		spec.medium = MediumDisk
	}
	if spec.release == "" {
		spec.release = "1.0.0"
	}
	n := &nodeDouble{c: c, name: c.prefix + spec.name, spec: spec, boot: 1}
	n.local = &localDouble{release: spec.release, medium: spec.medium, onApply: n.recordApply, serving: c.serving}
	labels := map[string]string{"kubernetes.io/hostname": n.name}
	if spec.server {
		labels[controlPlaneLabel] = "true"
	}
	obj := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: labels}}
	if _, err := c.client.CoreV1().Nodes().Create(c.ctx, obj, metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("create node %s: %v", n.name, err)
	}
	c.nodes = append(c.nodes, n)
	n.setStatus(true)
	ctx, cancel := context.WithCancel(c.ctx)
	n.done = make(chan struct{})
	c.t.Cleanup(func() {
		cancel()
		<-n.done
		if n.watchErr != nil {
			c.t.Errorf("node %s: %v", n.name, n.watchErr)
		}
	})
	go n.run(ctx)
	n.waitPublished()
	return n
}

// bareNode creates a node no watcher runs on, and returns its name.
func (c *cluster) bareNode(name string) string {
	c.t.Helper()
	name = c.prefix + name
	if _, err := c.client.CoreV1().Nodes().Create(c.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("create node %s: %v", name, err)
	}
	c.t.Cleanup(func() { c.client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// nodeDouble is one test node: its Local double, its watcher's boots and
// its kubelet.
type nodeDouble struct {
	c     *cluster
	name  string
	spec  nodeSpec
	local *localDouble
	done  chan struct{}

	mu   sync.Mutex
	boot int
	// atApply is what the node looked like when Apply was called.
	atApply  *applySnapshot
	watchErr error
}

// applySnapshot is the node as Apply found it.
type applySnapshot struct {
	unschedulable bool
	pods          []string
}

func (n *nodeDouble) bootID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("%s-boot-%d", n.name, n.boot)
}

// run is the node's life: its watcher, one boot after the other, and its
// kubelet deleting terminated pods.
func (n *nodeDouble) run(ctx context.Context) {
	defer close(n.done)
	go n.kubelet(ctx)
	for {
		boot, failCheck := context.WithCancel(ctx)
		if n.spec.checkFails != "" && n.local.checking() {
			// The boot check fails a while after the node came up on the
			// new release: it marks the slot bad and reboots.
			time.AfterFunc(5*testPoll, func() {
				n.local.checkFailed(n.spec.checkFails)
				failCheck()
			})
		}
		err := Watch(boot, n.c.client, n.name, n.local, WatchOptions{BootID: n.bootID(), Poll: testPoll})
		failCheck()
		if ctx.Err() != nil {
			return
		}
		if err == nil && n.local.rebooted() {
			n.local.comeBack(n.spec.comeBack)
		} else if !n.local.rolledBack() {
			n.mu.Lock()
			n.watchErr = fmt.Errorf("watch returned %v without a reboot", err)
			n.mu.Unlock()
			return
		}
		// The reboot: down, and up again with a new boot ID.
		n.setStatus(false)
		n.mu.Lock()
		n.boot++
		n.mu.Unlock()
		n.setStatus(true)
	}
}

// setStatus writes the kubelet's part of the Node's status: Ready and
// the boot ID.
func (n *nodeDouble) setStatus(ready bool) {
	n.c.t.Helper()
	for {
		node, err := n.c.client.CoreV1().Nodes().Get(n.c.ctx, n.name, metav1.GetOptions{})
		if err != nil {
			n.c.t.Errorf("node %s: %v", n.name, err)
			return
		}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
		node.Status.NodeInfo.BootID = n.bootID()
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}}
		_, err = n.c.client.CoreV1().Nodes().UpdateStatus(n.c.ctx, node, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			if err != nil && n.c.ctx.Err() == nil {
				n.c.t.Errorf("node %s status: %v", n.name, err)
			}
			return
		}
	}
}

func (n *nodeDouble) kubelet(ctx context.Context) {
	sel := fields.OneTermEqualSelector("spec.nodeName", n.name).String()
	for ctx.Err() == nil {
		pods, err := n.c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					n.c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, *metav1.NewDeleteOptions(0))
				}
			}
		}
		time.Sleep(testPoll / 2)
	}
}

// waitPublished waits until the node's watcher published its state in
// its current boot.
func (n *nodeDouble) waitPublished() {
	n.c.t.Helper()
	n.waitFor("its watcher's annotations", func(v nodeView) bool { return v.fresh() })
}

// waitFor polls the node until cond holds, for at most 20 s.
func (n *nodeDouble) waitFor(what string, cond func(nodeView) bool) nodeView {
	n.c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := n.view()
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			n.c.t.Fatalf("node %s: no %s in 20 s: %+v", n.name, what, v)
		}
		time.Sleep(testPoll / 2)
	}
}

func (n *nodeDouble) view() nodeView {
	n.c.t.Helper()
	node, err := n.c.client.CoreV1().Nodes().Get(n.c.ctx, n.name, metav1.GetOptions{})
	if err != nil {
		n.c.t.Fatalf("get node %s: %v", n.name, err)
	}
	return viewNode(node)
}

// recordApply is the localDouble's Apply hook: it notes the order, and
// whether the node was cordoned and which pods were still on it.
func (n *nodeDouble) recordApply() {
	n.c.applied.add(n.name)
	snap := &applySnapshot{unschedulable: n.view().Unschedulable}
	pods, err := n.c.client.CoreV1().Pods("").List(n.c.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n.name).String()})
	if err == nil {
		for _, p := range pods.Items {
			snap.pods = append(snap.pods, p.Name)
		}
	}
	n.mu.Lock()
	n.atApply = snap
	n.mu.Unlock()
}

func (c *cluster) serving() string {
	r, _ := c.served.Load().(string)
	return r
}

// run runs Run for the test cluster, with this test's progress file, the
// initial server serving release.
func (c *cluster) run(ctx context.Context, self *nodeDouble, release string) error {
	c.served.Store(release)
	return Run(ctx, c.client, Plan{
		Release: release, BundleURL: testURL, Self: self.name,
		ProgressPath: c.progressPath(),
		NodeTimeout:  20 * time.Second, DrainTimeout: 10 * time.Second, Poll: testPoll,
		Logf: func(format string, args ...any) { c.log.add(fmt.Sprintf(format, args...)) },
	})
}

func (c *cluster) progressPath() string { return c.progress }

// lines is a list of strings several goroutines add to.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	l.l = append(l.l, s)
	l.mu.Unlock()
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.l)
}
