package upgrade

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KubeletKubeconfigPath is the kubeconfig K3s writes for an agent's
// kubelet (k3s-io/k3s pkg/agent/config/config.go, get():
// filepath.Join(envInfo.DataDir, "agent", "kubelet.kubeconfig") with the
// default data dir /var/lib/rancher/k3s, written by deps.KubeConfig with
// the agent's client-kubelet certificate). Its user is system:node:<name>,
// which the Node authorizer lets read its own Node. A server reads the
// admin kubeconfig, payload.K3sKubeconfigPath (pkg/server/server.go
// writeKubeConfig at datadir.GlobalConfig).
const KubeletKubeconfigPath = "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"

// apiAttemptTimeout bounds one request to the API server.
const apiAttemptTimeout = 10 * time.Second

// nodeReady: the node is Ready, read through the API with the kubeconfig
// K3s wrote for the role. name is the node's name: K3s registers the
// node-name firstboot writes (the decided hostname), lowercased
// (pkg/util/net.go GetHostnameAndIPs).
func (env *CheckEnv) nodeReady(role, name string) probe {
	kubeconfig := KubeletKubeconfigPath
	if role == nodeconfig.RoleServer {
		kubeconfig = payload.K3sKubeconfigPath
	}
	return func(ctx context.Context) (verdict, string) {
		if !env.exists(kubeconfig) {
			return wait, "K3s has not written " + kubeconfig + " yet"
		}
		cfg, err := env.KubeConfig(filepath.Join(env.Root, kubeconfig))
		if err != nil {
			return wait, fmt.Sprintf("K3s kubeconfig %s: %v", kubeconfig, err)
		}
		cfg.Timeout = apiAttemptTimeout
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return wait, fmt.Sprintf("K3s kubeconfig %s: %v", kubeconfig, err)
		}
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return wait, fmt.Sprintf("node %s not found in the cluster", name)
		case err != nil:
			return wait, fmt.Sprintf("kubernetes API at %s unreachable: %v", cfg.Host, err)
		}
		for _, c := range n.Status.Conditions {
			if c.Type != corev1.NodeReady {
				continue
			}
			if c.Status == corev1.ConditionTrue {
				return pass, fmt.Sprintf("node %s is Ready (kubelet %s)", name, n.Status.NodeInfo.KubeletVersion)
			}
			return wait, fmt.Sprintf("node %s is not Ready: Ready=%s (%s: %s)", name, c.Status, c.Reason, c.Message)
		}
		return wait, fmt.Sprintf("node %s has no Ready condition yet", name)
	}
}
