package upgradecluster

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// podKind is who owns a test pod.
type podKind int

const (
	replicaSetPod podKind = iota // a ReplicaSet's: evicted
	daemonSetPod                 // a DaemonSet's: stays
	mirrorPod                    // a static pod's mirror: stays
)

// pod creates a running, Ready pod bound to node n (as the scheduler and
// the kubelet would have made it), in namespace default.
func (c *cluster) pod(n *nodeDouble, name string, kind podKind, labels map[string]string) *corev1.Pod {
	c.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: c.prefix + name, Namespace: "default", Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:   n.name,
			Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
		},
	}
	yes := true
	switch kind {
	case replicaSetPod:
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5d9f", UID: "rs-uid", Controller: &yes}}
	case daemonSetPod:
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "ds-uid", Controller: &yes}}
	case mirrorPod:
		p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	}
	pods := c.client.CoreV1().Pods("default")
	p, err := pods.Create(c.ctx, p, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("create pod %s: %v", name, err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if p, err = pods.UpdateStatus(c.ctx, p, metav1.UpdateOptions{}); err != nil {
		c.t.Fatalf("pod %s status: %v", name, err)
	}
	c.t.Cleanup(func() { pods.Delete(c.ctx, p.Name, *metav1.NewDeleteOptions(0)) })
	return p
}

// podExists says whether the pod is still there.
func (c *cluster) podExists(name string) bool {
	c.t.Helper()
	_, err := c.client.CoreV1().Pods("default").Get(c.ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.t.Fatal(err)
	}
	return err == nil
}

// budget creates a PodDisruptionBudget (minAvailable 1) over the pods
// with labels, and plays the disruption controller: its status says
// allowed disruptions, with one pod healthy of one desired.
func (c *cluster) budget(name string, labels map[string]string, allowed int32) {
	c.t.Helper()
	one := intstr.FromInt32(1)
	pdbs := c.client.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(c.ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: c.prefix + name, Namespace: "default"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("create budget %s: %v", name, err)
	}
	c.t.Cleanup(func() { pdbs.Delete(c.ctx, pdb.Name, metav1.DeleteOptions{}) })
	c.allow(pdb.Name, allowed)
}

// allow sets the budget's allowed disruptions, as the disruption
// controller would once another replica is up.
func (c *cluster) allow(name string, allowed int32) {
	c.t.Helper()
	pdbs := c.client.PolicyV1().PodDisruptionBudgets("default")
	for {
		pdb, err := pdbs.Get(c.ctx, name, metav1.GetOptions{})
		if err != nil {
			c.t.Fatal(err)
		}
		pdb.Status = policyv1.PodDisruptionBudgetStatus{
			ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
			CurrentHealthy: 1 + allowed, DesiredHealthy: 1, ExpectedPods: 1 + allowed,
		}
		_, err = pdbs.UpdateStatus(c.ctx, pdb, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			if err != nil {
				c.t.Fatal(err)
			}
			return
		}
	}
}

// mustExist fails t unless every named pod exists.
func (c *cluster) mustExist(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if !c.podExists(name) {
			t.Errorf("pod %s is gone", name)
		}
	}
}
