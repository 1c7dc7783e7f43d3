// Package k3sconfig renders K3s's own config file, /etc/rancher/k3s/config.yaml,
// for one node: the initial server, a joining server or an agent.
//
// The keys are K3s's command-line flags without the dashes (K3s reads the
// file as if each key were given as --key=value), in a fixed order, so the
// same Input always renders the same bytes.
//
// Keys only `k3s server` knows (cluster-init, tls-san, disable,
// secrets-encryption, embedded-registry, write-kubeconfig-mode and
// etcd-snapshot*/etcd-s3*) are never rendered for an agent: K3s drops
// unknown keys from the config file only for `k3s server` and
// `k3s etcd-snapshot`, so `k3s agent` would refuse to start on them.
//
// The output may hold secrets (a token given by value, the S3 secret key of
// etcd snapshots): write it root-only (0600).
//
// Typical use, on a node that joins:
//
//	data, err := k3sconfig.Render(k3sconfig.Input{
//		Role: nodeconfig.RoleAgent, Server: cfg.Cluster.Server,
//		TokenFile: nodeconfig.JoinTokenPath, NodeName: hostname,
//	})
package k3sconfig

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// KubeconfigMode is the mode K3s writes the admin kubeconfig
// (/etc/rancher/k3s/k3s.yaml) with on servers: root-only, it is
// cluster-admin.
const KubeconfigMode = "0600"

// Input is what one node's K3s config is made from.
type Input struct {
	// Role is nodeconfig.RoleServer or nodeconfig.RoleAgent.
	Role string
	// ClusterInit marks the initial server: it starts the embedded etcd
	// cluster and has no Server.
	ClusterInit bool
	// Server is the https URL a joining server or an agent dials.
	Server string
	// Token is the cluster token by value; TokenFile names a file holding
	// it (nodeconfig.TokenPath or JoinTokenPath). Exactly one is required:
	// without a token the initial server would make up its own, and no
	// baked node could join.
	Token     string
	TokenFile string
	// AgentTokenFile, on a server, names the file holding the agent
	// token's secret (nodeconfig.AgentTokenPath): K3s then admits agents
	// with it and servers with the server token only. Empty lets agents
	// join with the server token (K3s's default).
	AgentTokenFile string
	// NodeName is the Kubernetes node name; empty lets K3s use the hostname.
	NodeName string
	// NodeIP is the address the node advertises (no prefix length); empty
	// lets K3s pick the default route's.
	NodeIP string
	// NodeLabels ("key=value") and NodeTaints ("key[=value]:Effect") are
	// registered with the node.
	NodeLabels []string
	NodeTaints []string

	// Server-only settings, ignored for an agent.

	// TLSSAN are extra names and addresses in the server certificate.
	TLSSAN []string
	// Disable lists packaged components not to deploy.
	Disable []string
	// SecretsEncryption encrypts Secrets at rest.
	SecretsEncryption bool
	// EmbeddedRegistry turns on K3s's embedded registry mirror (Spegel).
	EmbeddedRegistry bool
	// EtcdSnapshots configures scheduled etcd snapshots; nil keeps K3s's
	// defaults.
	EtcdSnapshots *nodeconfig.EtcdSnapshots
	// EtcdS3SecretKey is the S3 secret key, read from
	// nodeconfig.EtcdS3SecretKeyPath; required exactly when
	// EtcdSnapshots.S3.SecretKey is set.
	EtcdS3SecretKey string
}

// file is config.yaml: K3s's flag names, in the order they are written.
type file struct {
	ClusterInit    bool     `yaml:"cluster-init,omitempty"`
	Server         string   `yaml:"server,omitempty"`
	Token          string   `yaml:"token,omitempty"`
	TokenFile      string   `yaml:"token-file,omitempty"`
	AgentTokenFile string   `yaml:"agent-token-file,omitempty"`
	NodeName       string   `yaml:"node-name,omitempty"`
	NodeIP         string   `yaml:"node-ip,omitempty"`
	NodeLabel      []string `yaml:"node-label,omitempty"`
	NodeTaint      []string `yaml:"node-taint,omitempty"`

	WriteKubeconfigMode string   `yaml:"write-kubeconfig-mode,omitempty"`
	TLSSAN              []string `yaml:"tls-san,omitempty"`
	Disable             []string `yaml:"disable,omitempty"`
	SecretsEncryption   bool     `yaml:"secrets-encryption,omitempty"`
	EmbeddedRegistry    bool     `yaml:"embedded-registry,omitempty"`

	EtcdSnapshotScheduleCron string `yaml:"etcd-snapshot-schedule-cron,omitempty"`
	EtcdSnapshotRetention    int    `yaml:"etcd-snapshot-retention,omitempty"`
	EtcdS3                   bool   `yaml:"etcd-s3,omitempty"`
	EtcdS3Endpoint           string `yaml:"etcd-s3-endpoint,omitempty"`
	EtcdS3EndpointCA         string `yaml:"etcd-s3-endpoint-ca,omitempty"`
	EtcdS3Insecure           bool   `yaml:"etcd-s3-insecure,omitempty"`
	EtcdS3Bucket             string `yaml:"etcd-s3-bucket,omitempty"`
	EtcdS3Folder             string `yaml:"etcd-s3-folder,omitempty"`
	EtcdS3Region             string `yaml:"etcd-s3-region,omitempty"`
	EtcdS3AccessKey          string `yaml:"etcd-s3-access-key,omitempty"`
	EtcdS3SecretKey          string `yaml:"etcd-s3-secret-key,omitempty"`
}

const header = "# K3s config written by firstboot from " + nodeconfig.Path + " at every boot:\n" +
	"# edits here are lost. Change the site config and rebuild instead.\n"

// Render returns the content of /etc/rancher/k3s/config.yaml for in, or an
// error naming every input that is missing or contradictory.
func Render(in Input) ([]byte, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	f := file{
		Server: in.Server, Token: in.Token, TokenFile: in.TokenFile,
		NodeName: in.NodeName, NodeIP: in.NodeIP,
		NodeLabel: in.NodeLabels, NodeTaint: in.NodeTaints,
	}
	if in.Role == nodeconfig.RoleServer {
		f.ClusterInit = in.ClusterInit
		f.AgentTokenFile = in.AgentTokenFile
		f.WriteKubeconfigMode = KubeconfigMode
		f.TLSSAN, f.Disable = in.TLSSAN, in.Disable
		f.SecretsEncryption, f.EmbeddedRegistry = in.SecretsEncryption, in.EmbeddedRegistry
		f.setSnapshots(in.EtcdSnapshots, in.EtcdS3SecretKey)
	}
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode k3s config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode k3s config: %w", err)
	}
	return buf.Bytes(), nil
}

func (f *file) setSnapshots(s *nodeconfig.EtcdSnapshots, secretKey string) {
	if s == nil {
		return
	}
	f.EtcdSnapshotScheduleCron, f.EtcdSnapshotRetention = s.Schedule, s.Retention
	if s.S3 == nil {
		return
	}
	f.EtcdS3 = true
	f.EtcdS3Endpoint, f.EtcdS3Bucket, f.EtcdS3Folder, f.EtcdS3Region = s.S3.Endpoint, s.S3.Bucket, s.S3.Folder, s.S3.Region
	f.EtcdS3Insecure = s.S3.Insecure
	f.EtcdS3AccessKey, f.EtcdS3SecretKey = s.S3.AccessKey, secretKey
	if s.S3.EndpointCA {
		f.EtcdS3EndpointCA = nodeconfig.EtcdS3EndpointCAPath
	}
}

// check reports every problem with in at once.
func (in Input) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch in.Role {
	case nodeconfig.RoleAgent:
		if in.ClusterInit {
			bad("cluster init: only a server initialises the cluster, this node is an agent")
		}
		if in.Server == "" {
			bad("server: an agent needs the URL of a server to join, like https://10.0.0.10:6443")
		}
	case nodeconfig.RoleServer:
		switch {
		case in.ClusterInit && in.Server != "":
			bad("server: the initial server (cluster init) starts the cluster and joins none, but server is %s", in.Server)
		case !in.ClusterInit && in.Server == "":
			bad("server: a joining server needs the URL of a server to join, like https://10.0.0.10:6443 (or cluster init on the initial server)")
		}
	default:
		bad("role %q: want %q or %q", in.Role, nodeconfig.RoleServer, nodeconfig.RoleAgent)
	}
	if in.Server != "" {
		if err := checkServerURL(in.Server); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case in.Token == "" && in.TokenFile == "":
		bad("token: required (Token or TokenFile): without it the initial server makes up its own and no other node can join")
	case in.Token != "" && in.TokenFile != "":
		bad("token: give Token or TokenFile, not both")
	}
	if in.NodeIP != "" {
		if _, err := netip.ParseAddr(in.NodeIP); err != nil {
			bad("node IP %q: want an IP address without prefix length", in.NodeIP)
		}
	}
	if in.Role == nodeconfig.RoleServer {
		errs = append(errs, checkSnapshots(in.EtcdSnapshots, in.EtcdS3SecretKey)...)
	}
	return errors.Join(errs...)
}

func checkServerURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("server %q: not a URL", s)
	case u.Scheme != "https":
		// K3s itself: "only https:// URLs are supported".
		return fmt.Errorf("server %q: want an https URL (K3s joins over https only)", s)
	case u.Host == "":
		return fmt.Errorf("server %q: no host", s)
	}
	return nil
}

func checkSnapshots(s *nodeconfig.EtcdSnapshots, secretKey string) []error {
	var errs []error
	if s == nil || s.S3 == nil {
		if secretKey != "" {
			errs = append(errs, errors.New("etcd S3 secret key given, but etcd snapshots go to no S3 bucket"))
		}
		return errs
	}
	if s.S3.Endpoint == "" {
		errs = append(errs, errors.New("etcd snapshots S3 endpoint: required"))
	}
	if s.S3.Bucket == "" {
		errs = append(errs, errors.New("etcd snapshots S3 bucket: required"))
	}
	switch {
	case s.S3.SecretKey && secretKey == "":
		errs = append(errs, fmt.Errorf("etcd snapshots S3 secret key: the node config says the image holds it (%s), but none was given", nodeconfig.EtcdS3SecretKeyPath))
	case !s.S3.SecretKey && secretKey != "":
		errs = append(errs, errors.New("etcd snapshots S3 secret key given, but the node config has none"))
	}
	return errs
}
