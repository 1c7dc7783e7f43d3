package build

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
	"github.com/ml-appliance/appliance/firstboot/k3sconfig"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

const clusterSite = `apiVersion: appliance/v1alpha1
kind: Site
metadata: {name: lab}
os:
  base: {rootfs: base.tar}
k3s: {version: v1.33.5+k3s1}
cluster:
  tlsSAN: [lab.internal]
  disable: [traefik]
  secretsEncryption: true
  network: {gateway: 10.0.0.1, dns: [10.0.0.1], ntp: [ntp.internal]}
  etcdSnapshots:
    retention: 9
    s3: {endpoint: "minio.internal:9000", bucket: etcd, accessKey: backup, secretKeyFile: s3-secret, endpointCA: s3-ca.crt}
  nodes:
    - {hostname: ctrl-1, mac: "52:54:00:00:00:01", role: server, init: true, address: 10.0.0.10/24}
    - {hostname: gpu-1, serial: CZ1234ABC, labels: [gpu=a100], taints: ["gpu=a100:NoSchedule"]}
`

const s3SecretValue = "s3-SECRET-value-xyz"

// loadClusterSite writes clusterSite and its S3 files into a directory and
// loads it.
func loadClusterSite(t *testing.T, yaml string) *site.Site {
	t.Helper()
	dir := t.TempDir()
	ca, err := newCA("s3-ca", time.Now(), subCAValidity, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"site.yaml": []byte(yaml), "s3-secret": []byte(s3SecretValue + "\n"), "s3-ca.crt": ca.certPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, warnings, err := site.Load(filepath.Join(dir, "site.yaml"))
	if err != nil || warnings != nil {
		t.Fatalf("load: %v %q", err, warnings)
	}
	return s
}

// bakedNodeConfig is a pipeline after addNodeConfig, and its tree.
type bakedNodeConfig struct {
	*pipeline
	tree *rootfs.Tree
}

// bakeNodeConfig runs addNodeConfig into a fresh tree with out as output dir.
func bakeNodeConfig(t *testing.T, s *site.Site, out string) bakedNodeConfig {
	t.Helper()
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { tree.Close() })
	b := &pipeline{site: s, opts: Options{OutputDir: out}, report: &report.Report{}, log: slog.New(slog.DiscardHandler)}
	if err := b.addNodeConfig(tree); err != nil {
		t.Fatal(err)
	}
	return bakedNodeConfig{b, tree}
}

func treeFile(t *testing.T, tree *rootfs.Tree, name string, wantMode fs.FileMode) []byte {
	t.Helper()
	name = strings.TrimPrefix(name, "/")
	st, err := tree.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != wantMode {
		t.Errorf("%s: mode %04o, want %04o", name, st.Mode().Perm(), wantMode)
	}
	if st.IsDir() {
		return nil
	}
	data, err := fs.ReadFile(tree, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestNodeConfigCarriesTheCluster(t *testing.T) {
	s := loadClusterSite(t, clusterSite)
	out := t.TempDir()
	b := bakeNodeConfig(t, s, out)
	tree, rep := b.tree, b.report

	cfg, err := nodeconfig.Unmarshal(treeFile(t, tree, nodeconfig.Path, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	want := &nodeconfig.Cluster{
		Server: "https://10.0.0.10:6443", Token: true, CA: true,
		TLSSAN: []string{"lab.internal", "10.0.0.10"}, Disable: []string{"traefik"}, SecretsEncryption: true,
		Network: &nodeconfig.Network{Gateway: "10.0.0.1", DNS: []string{"10.0.0.1"}, NTP: []string{"ntp.internal"}},
		EtcdSnapshots: &nodeconfig.EtcdSnapshots{Schedule: site.DefaultSnapshotSchedule, Retention: 9, S3: &nodeconfig.EtcdS3{
			Endpoint: "minio.internal:9000", Bucket: "etcd", AccessKey: "backup", SecretKey: true, EndpointCA: true,
		}},
	}
	if !reflect.DeepEqual(cfg.Cluster, want) {
		t.Errorf("cluster section:\n got %+v\nwant %+v", cfg.Cluster, want)
	}
	if n := cfg.Nodes[1]; n.Serial != "CZ1234ABC" || !reflect.DeepEqual(n.Labels, []string{"gpu=a100"}) || !reflect.DeepEqual(n.Taints, []string{"gpu=a100:NoSchedule"}) {
		t.Errorf("node gpu-1: %+v", n)
	}

	for _, d := range []string{nodeconfig.ClusterDir, nodeconfig.CADir, nodeconfig.CADir + "/etcd"} {
		treeFile(t, tree, d, 0o755)
	}
	// The image holds no secret: every file under the cluster dir is a
	// certificate, and nothing is under the node's secrets dir.
	walkTree(t, tree, func(name string, data []byte) {
		if strings.HasPrefix("/"+name, nodeconfig.SecretsDir) {
			t.Errorf("the image holds %s: secrets never enter the image", name)
		}
		if strings.HasPrefix("/"+name, nodeconfig.ClusterDir+"/") && !strings.HasSuffix(name, ".crt") {
			t.Errorf("the image's cluster dir holds %s, not a certificate", name)
		}
		if strings.Contains(string(data), "PRIVATE KEY") {
			t.Errorf("the image holds a private key in %s", name)
		}
	})
	vol := b.secrets
	secret := strings.TrimSpace(string(vol[clustersecrets.Token]))
	stored, err := os.ReadFile(filepath.Join(out, SecretsDirName, "lab", "token"))
	if err != nil || strings.TrimSpace(string(stored)) != secret || len(secret) != 64 {
		t.Errorf("the volume's token is not the one kept in %s: %v", SecretsDirName, err)
	}
	if join := strings.TrimSpace(string(vol[clustersecrets.JoinToken])); join != "K10"+rep.ClusterIdentity.CAHash+"::server:"+secret {
		t.Errorf("join token is not K10<report's CA hash>::server:<token>")
	}
	agentSecret := strings.TrimSpace(string(vol[clustersecrets.AgentToken]))
	if agentSecret == secret || len(agentSecret) != 64 {
		t.Errorf("agent token %q: want 64 hex digits, not the server token", agentSecret)
	}
	agentJoin := "K10" + rep.ClusterIdentity.CAHash + "::node:" + agentSecret
	if got := strings.TrimSpace(string(vol[clustersecrets.AgentJoinToken])); got != agentJoin || b.agentJoinToken != agentJoin {
		t.Errorf("agent join token %q (pipeline %q), want K10<CA hash>::node:<agent secret>", got, b.agentJoinToken)
	}
	for _, name := range k3sCAs {
		treeFile(t, tree, nodeconfig.CADir+"/"+name+".crt", 0o644)
		if !strings.Contains(string(vol["tls/"+name+".key"]), "PRIVATE KEY") {
			t.Errorf("the volume lacks the key of %s", name)
		}
	}
	for _, absent := range []string{"tls/root-ca.key", "tls/intermediate-ca.key", "tls/root-ca.pem"} {
		if vol[absent] != nil {
			t.Errorf("the volume holds %s: the root and intermediate stay in the secrets dir", absent)
		}
	}
	if got := string(vol[clustersecrets.EtcdS3SecretKey]); got != s3SecretValue+"\n" {
		t.Errorf("S3 secret key = %q", got)
	}
	treeFile(t, tree, nodeconfig.EtcdS3EndpointCAPath, 0o644)

	wantSecrets := []string{"agent-join-token", "agent-token", "etcd-s3-secret-key", "join-token"}
	for _, name := range []string{"client-ca", "etcd/peer-ca", "etcd/server-ca", "request-header-ca", "server-ca"} {
		wantSecrets = append(wantSecrets, "tls/"+name+".key")
	}
	wantSecrets = append(wantSecrets, "token")
	id := rep.ClusterIdentity
	if id == nil || id.Token != "generate" || id.CA != "generate" || id.SecretsDir != "secrets/lab" || !reflect.DeepEqual(id.VolumeSecrets, wantSecrets) {
		t.Errorf("report: %+v\nwant secrets %q", id, wantSecrets)
	}
	data, err := report.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) || strings.Contains(string(data), agentSecret) || strings.Contains(string(data), s3SecretValue) {
		t.Error("the build report holds a secret")
	}

	// A second build into the same output directory has the same identity.
	b2 := bakeNodeConfig(t, s, out)
	if !reflect.DeepEqual(b2.secrets, vol) {
		t.Error("the secrets volume differs in a rebuild")
	}
	for _, p := range []string{nodeconfig.Path, nodeconfig.CADir + "/server-ca.crt"} {
		if string(treeFile(t, b2.tree, p, 0o644)) != string(treeFile(t, tree, p, 0o644)) {
			t.Errorf("%s differs in a rebuild", p)
		}
	}
}

// walkTree calls fn with every regular file of tree.
func walkTree(t *testing.T, tree *rootfs.Tree, fn func(name string, data []byte)) {
	t.Helper()
	err := fs.WalkDir(tree, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := fs.ReadFile(tree, name)
		if err != nil {
			return err
		}
		fn(name, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBakedConfigRendersK3sConfigs checks the contract end to end: what the
// builder bakes is enough for k3sconfig to render each role's config.
func TestBakedConfigRendersK3sConfigs(t *testing.T) {
	b := bakeNodeConfig(t, loadClusterSite(t, clusterSite), t.TempDir())
	cfg, err := nodeconfig.Unmarshal(treeFile(t, b.tree, nodeconfig.Path, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	secretKey := strings.TrimSpace(string(b.secrets[clustersecrets.EtcdS3SecretKey]))
	c := cfg.Cluster
	server, err := k3sconfig.Render(k3sconfig.Input{
		Role: nodeconfig.RoleServer, ClusterInit: true, TokenFile: nodeconfig.TokenPath, AgentTokenFile: nodeconfig.AgentTokenPath,
		NodeName: "ctrl-1", NodeIP: "10.0.0.10",
		TLSSAN: c.TLSSAN, Disable: c.Disable, SecretsEncryption: c.SecretsEncryption,
		EtcdSnapshots: c.EtcdSnapshots, EtcdS3SecretKey: secretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"cluster-init: true", "agent-token-file: " + nodeconfig.AgentTokenPath, "etcd-s3-secret-key: " + s3SecretValue, "etcd-s3-endpoint-ca: " + nodeconfig.EtcdS3EndpointCAPath} {
		if !strings.Contains(string(server), line+"\n") {
			t.Errorf("initial server config lacks %q:\n%s", line, server)
		}
	}
	agent, err := k3sconfig.Render(k3sconfig.Input{
		Role: nodeconfig.RoleAgent, Server: c.Server, TokenFile: nodeconfig.AgentJoinTokenPath, NodeName: "gpu-1",
		NodeLabels: cfg.Nodes[1].Labels, NodeTaints: cfg.Nodes[1].Taints,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(agent), "server: https://10.0.0.10:6443\n") {
		t.Errorf("agent config:\n%s", agent)
	}
}

func TestNoClusterWithoutK3s(t *testing.T) {
	s := loadClusterSite(t, strings.Replace(clusterSite, "k3s: {version: v1.33.5+k3s1}\n", "", 1))
	out := t.TempDir()
	b := bakeNodeConfig(t, s, out)
	tree, rep := b.tree, b.report
	if b.secrets != nil || b.agentJoinToken != "" {
		t.Error("a site without K3s has cluster secrets")
	}
	if _, err := tree.Stat(strings.TrimPrefix(nodeconfig.ClusterDir, "/")); err == nil {
		t.Error("an image without K3s holds cluster secrets")
	}
	if rep.ClusterIdentity != nil {
		t.Errorf("report: %+v", rep.ClusterIdentity)
	}
	if _, err := os.Stat(filepath.Join(out, SecretsDirName)); err == nil {
		t.Error("a site without K3s generated an identity")
	}
	cfg, err := nodeconfig.Unmarshal(treeFile(t, tree, nodeconfig.Path, 0o644))
	if err != nil || cfg.Cluster != nil {
		t.Errorf("node config cluster = %+v, %v", cfg.Cluster, err)
	}
}
