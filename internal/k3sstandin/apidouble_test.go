package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestAPIDouble reads the kubeconfig the double wrote for each role with
// client-go's own loader, as firstboot's upgrade check does, and asks the
// double for nodes with the typed client: its node is Ready, another is
// NotFound, /version is not served.
func TestAPIDouble(t *testing.T) {
	for _, role := range []string{"server", "agent"} {
		t.Run(role, func(t *testing.T) {
			root := t.TempDir()
			d, err := startAPIDouble(apiOptions{Root: root, Role: role, NodeName: "node-1", Version: "v1.36.2+k3s1",
				Addr: "127.0.0.1:0", KubeconfigMode: 0o600})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			want := filepath.Join(root, kubeletKubeconfig)
			if role == "server" {
				want = filepath.Join(root, adminKubeconfig)
			}
			if d.Kubeconfig != want {
				t.Errorf("kubeconfig at %s, want %s", d.Kubeconfig, want)
			}
			if info, err := os.Stat(d.Kubeconfig); err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("kubeconfig %s: %v, mode %v; want 0600", d.Kubeconfig, err, info.Mode().Perm())
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", d.Kubeconfig)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != d.URL {
				t.Errorf("kubeconfig names %s, the double listens on %s", cfg.Host, d.URL)
			}
			client := kubernetes.NewForConfigOrDie(cfg)
			ctx := context.Background()
			n, err := client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ready := false
			for _, c := range n.Status.Conditions {
				ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
			}
			if !ready || n.Name != "node-1" || n.Status.NodeInfo.KubeletVersion != "v1.36.2+k3s1" {
				t.Errorf("node = %+v, want node-1 Ready=True with kubelet v1.36.2+k3s1", n)
			}
			if _, err := client.CoreV1().Nodes().Get(ctx, "node-2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("another node: err %v, want NotFound", err)
			}
			if _, err := client.Discovery().ServerVersion(); err == nil {
				t.Errorf("/version answered; the double serves the node only")
			}
		})
	}
}

// TestAPIDoubleWantsClientCert: a client with the CA but no client
// certificate is refused at the TLS handshake.
func TestAPIDoubleWantsClientCert(t *testing.T) {
	root := t.TempDir()
	d, err := startAPIDouble(apiOptions{Root: root, Role: "agent", NodeName: "node-1", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ca, err := os.ReadFile(filepath.Join(root, agentDir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(d.URL + "/api/v1/nodes/node-1")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET without a client certificate: %s, want a TLS error", resp.Status)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET without a client certificate: %v, want a certificate error", err)
	}
}

func TestK3sNodeName(t *testing.T) {
	got, err := k3sNodeName(map[string]any{"node-name": "Node-1"})
	if err != nil || got != "node-1" {
		t.Errorf("node-name Node-1: %q, %v; want node-1 (K3s lowercases it)", got, err)
	}
	host, _ := os.Hostname()
	if got, _ := k3sNodeName(map[string]any{}); got != strings.ToLower(host) {
		t.Errorf("no node-name: %q, want the hostname %q lowercased", got, host)
	}
	if m := kubeconfigMode(map[string]any{"write-kubeconfig-mode": "0644"}); m != 0o644 {
		t.Errorf("write-kubeconfig-mode 0644: %v", m)
	}
	if m := kubeconfigMode(map[string]any{}); m != 0o600 {
		t.Errorf("no write-kubeconfig-mode: %v, want 0600", m)
	}
}
