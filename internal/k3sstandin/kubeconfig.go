package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// Where K3s writes the kubeconfig firstboot's upgrade check reads, and
// where the API double listens for it.
const (
	// adminKubeconfig is a server's admin kubeconfig: k3s-io/k3s
	// pkg/server/server.go writeKubeConfig writes it at HomeKubeConfig(true,
	// ...), datadir.GlobalConfig (pkg/datadir/datadir.go), for root, with
	// clientaccess.WriteClientKubeConfig (pkg/clientaccess/kubeconfig.go):
	// the CA and the admin client certificate embedded, every name
	// "default", server https://127.0.0.1:<https-listen-port, 6443>.
	adminKubeconfig = "/etc/rancher/k3s/k3s.yaml"
	// agentDir is <data-dir>/agent; kubeletKubeconfig is the kubelet's
	// kubeconfig there: pkg/agent/config/config.go get() writes it with
	// deps.KubeConfig(kubeconfigKubelet, apiServerURL, serverCAFile,
	// clientKubeletCert, clientKubeletKey) (pkg/daemons/control/deps/
	// deps.go, kubeconfigTemplate): files named, not embedded; cluster
	// "local", context "Default", user "user"; server the agent's
	// load balancer, https://127.0.0.1:<lb-server-port, 6444>.
	agentDir          = "/var/lib/rancher/k3s/agent"
	kubeletKubeconfig = agentDir + "/kubelet.kubeconfig"
)

// Listen addresses of the API double: what the kubeconfig of the role
// names.
const (
	serverAPIAddr = "127.0.0.1:6443"
	agentAPIAddr  = "127.0.0.1:6444"
)

var adminTemplate = template.Must(template.New("admin").Parse(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {{.CA}}
    server: {{.URL}}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: {{.Cert}}
    client-key-data: {{.Key}}
`))

var kubeletTemplate = template.Must(template.New("kubelet").Parse(`apiVersion: v1
clusters:
- cluster:
    server: {{.URL}}
    certificate-authority: {{.CA}}
  name: local
contexts:
- context:
    cluster: local
    namespace: default
    user: user
  name: Default
current-context: Default
kind: Config
preferences: {}
users:
- name: user
  user:
    client-certificate: {{.Cert}}
    client-key: {{.Key}}
`))

// writeKubeconfig writes the kubeconfig of role under root for the API
// double at url and returns its path: the admin kubeconfig on a server
// (mode: write-kubeconfig-mode, else 0600 as K3s sets it), the kubelet's
// with its CA and client key pair beside it on an agent.
func writeKubeconfig(root, role, url string, p pki, mode os.FileMode) (string, error) {
	var b strings.Builder
	if role == "server" {
		path := filepath.Join(root, adminKubeconfig)
		enc := base64.StdEncoding.EncodeToString
		err := adminTemplate.Execute(&b, map[string]string{
			"URL": url, "CA": enc(p.caPEM), "Cert": enc(p.clientCertPEM), "Key": enc(p.clientKeyPEM)})
		if err != nil {
			return "", err
		}
		return path, writeFile(path, []byte(b.String()), mode)
	}
	dir := filepath.Join(root, agentDir)
	files := map[string][]byte{"server-ca.crt": p.caPEM, "client-kubelet.crt": p.clientCertPEM, "client-kubelet.key": p.clientKeyPEM}
	for name, data := range files {
		if err := writeFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	err := kubeletTemplate.Execute(&b, map[string]string{"URL": url, "CA": filepath.Join(dir, "server-ca.crt"),
		"Cert": filepath.Join(dir, "client-kubelet.crt"), "Key": filepath.Join(dir, "client-kubelet.key")})
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, kubeletKubeconfig)
	return path, writeFile(path, []byte(b.String()), 0o600)
}

// writeFile replaces path with data (mode perm), creating its directory.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".standin-tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
