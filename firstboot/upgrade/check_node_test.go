package upgrade

import (
	"context"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/kubetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestNodeCheckAgainstAPIServer runs the node check against a real
// kube-apiserver (package kubetest), through the kubeconfig at the path
// K3s writes for the role: a Ready node passes; a NotReady one, a missing
// one and an unreachable API server fail at the timeout with what was
// last seen. Then a whole boot check of a server with K3s blesses its
// slot.
func TestNodeCheckAgainstAPIServer(t *testing.T) {
	cfg := kubetest.Start(t)
	client := kubernetes.NewForConfigOrDie(cfg)
	addNode(t, client, "node-1", corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	addNode(t, client, "node-2", corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready")
	closed := closedPort(t)

	for _, tc := range []struct {
		name, role, node string
		apiServer        *rest.Config
		ok               bool
		line             string
	}{
		{"ready server", "server", "node-1", cfg, true, "node node-1 is Ready (kubelet v1.36.2+k3s1)"},
		{"ready agent", "agent", "node-1", cfg, true, "node node-1 is Ready (kubelet v1.36.2+k3s1)"},
		{"not ready", "server", "node-2", cfg, false,
			"node node-2 is not Ready: Ready=False (KubeletNotReady: container runtime network not ready) (gave up after 300ms)"},
		{"missing", "agent", "node-3", cfg, false, "node node-3 not found in the cluster (gave up after 300ms)"},
		{"unreachable", "server", "node-1", &rest.Config{Host: "https://" + closed, TLSClientConfig: cfg.TLSClientConfig}, false,
			"kubernetes API at https://" + closed + " unreachable: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newCheckNode(t)
			path := KubeletKubeconfigPath
			if tc.role == "server" {
				path = payload.K3sKubeconfigPath
			}
			writeUnder(t, n.root, path, nil)
			if err := kubetest.WriteKubeconfig(filepath.Join(n.root, path), tc.apiServer); err != nil {
				t.Fatal(err)
			}
			env := n.env()
			env.defaults()
			env.Timeouts.Poll = 20 * time.Millisecond
			ok, line := env.run(context.Background(), bootCheck{"node", 300 * time.Millisecond, env.nodeReady(tc.role, tc.node)})
			if ok != tc.ok || !strings.HasPrefix(line, tc.line) {
				t.Errorf("node check: %v %q, want %v %q", ok, line, tc.ok, tc.line)
			}
		})
	}

	t.Run("whole check", func(t *testing.T) {
		n := upgradedNode(t)
		n.withK3s("server", "Node-1", false) // K3s lowercases the node name
		writeUnder(t, n.root, payload.K3sKubeconfigPath, nil)
		if err := kubetest.WriteKubeconfig(filepath.Join(n.root, payload.K3sKubeconfigPath), cfg); err != nil {
			t.Fatal(err)
		}
		n.units.set(payload.UnitName, firstbootFinished)
		n.units.set(payload.K3sServerUnit, k3sRunning)
		if err := Check(context.Background(), n.env()); err != nil {
			t.Fatal(err)
		}
		if got, want := n.entries(), []string{"appliance-a.conf", "appliance-b.conf"}; !reflect.DeepEqual(got, want) {
			t.Errorf("entries %v, want %v", got, want)
		}
		wantLines(t, n.out.String(),
			"firstboot: upgrade: check k3s: ok: k3s.service is active (running)",
			"firstboot: upgrade: check node: ok: node node-1 is Ready (kubelet v1.36.2+k3s1)",
			"firstboot: upgrade: slot b (3.0.0) passed its checks; blessed: it boots from now on")
		if n.boots() != bootslot.B.Name {
			t.Errorf("boots %s next, want b", n.boots())
		}
	})
}

// addNode creates a Node with the given Ready condition, as a kubelet
// registers and reports it.
func addNode(t *testing.T, client kubernetes.Interface, name string, ready corev1.ConditionStatus, reason, message string) {
	t.Helper()
	ctx := context.Background()
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.NodeInfo.KubeletVersion = "v1.36.2+k3s1"
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: reason, Message: message,
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
