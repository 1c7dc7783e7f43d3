package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Modes of the cluster files in the image: public certificates in a
// directory anyone may read; secrets never enter the image.
const (
	publicDirMode fs.FileMode = 0o755
	certFileMode  fs.FileMode = 0o644
)

// clusterConfig bakes the cluster's public files (the CA certificates, the
// S3 endpoint's CA) into the tree, collects its secrets (tokens, CA keys,
// the S3 secret key) into b.secrets for the secrets volume, records both
// in the report, and returns the node config's cluster section. A site
// without K3s gets none of it: there is no cluster to join.
func (b *pipeline) clusterConfig(tree *rootfs.Tree) (*nodeconfig.Cluster, error) {
	if !b.site.K3s.Enabled() {
		return nil, nil
	}
	c := &b.site.Cluster
	// Per site: two sites built into one output directory stay two clusters.
	secretsRel := filepath.Join(SecretsDirName, b.site.Metadata.Name)
	secretsDir := filepath.Join(b.opts.OutputDir, secretsRel)
	id, err := loadClusterIdentity(secretsDir, c, time.Now())
	if err != nil {
		return nil, err
	}
	nc := &nodeconfig.Cluster{
		Server: c.Server, Token: true, CA: id.ca != nil,
		TLSSAN: c.TLSSAN, Disable: c.Disable, SecretsEncryption: c.SecretsEncryption,
	}
	if !c.Network.IsZero() {
		nc.Network = &nodeconfig.Network{Gateway: c.Network.Gateway, DNS: c.Network.DNS, NTP: c.Network.NTP}
	}
	w := &clusterFiles{tree: tree, secrets: clustersecrets.Volume{
		clustersecrets.Token:          []byte(id.secret + "\n"),
		clustersecrets.JoinToken:      []byte(id.joinToken("server", id.secret) + "\n"),
		clustersecrets.AgentToken:     []byte(id.agentSecret + "\n"),
		clustersecrets.AgentJoinToken: []byte(id.agentJoinToken() + "\n"),
	}}
	rep := &report.ClusterIdentity{Token: id.tokenSource, CA: c.CA, SecretsDir: filepath.ToSlash(secretsRel)}
	if id.ca != nil {
		rep.CAHash = id.ca.hash
		w.dir(nodeconfig.ClusterDir)
		w.dir(nodeconfig.CADir)
		for _, name := range sortedKeys(id.ca.files) {
			if strings.HasSuffix(name, ".key") {
				w.secrets[path.Join(clustersecrets.CAKeyDir, name)] = id.ca.files[name]
				continue
			}
			p := path.Join(nodeconfig.CADir, name)
			w.dir(path.Dir(p))
			w.file(p, certFileMode, id.ca.files[name])
		}
	}
	nc.EtcdSnapshots, err = b.etcdSnapshots(w, &c.EtcdSnapshots)
	if err != nil {
		return nil, err
	}
	if w.err != nil {
		return nil, w.err
	}
	rep.VolumeSecrets = w.secrets.Names()
	b.report.ClusterIdentity = rep
	b.secrets = w.secrets
	b.agentJoinToken = id.agentJoinToken()
	b.log.Info("cluster identity", "token", id.tokenSource, "ca", c.CA, "kept in", secretsDir)
	return nc, nil
}

// etcdSnapshots is the node config's snapshot settings; the S3 secret key
// goes to the secrets volume, the endpoint's CA bundle into the image.
func (b *pipeline) etcdSnapshots(w *clusterFiles, s *site.EtcdSnapshots) (*nodeconfig.EtcdSnapshots, error) {
	ns := &nodeconfig.EtcdSnapshots{Schedule: s.Schedule, Retention: int(s.Retention)}
	if s.S3 == nil {
		return ns, nil
	}
	s3 := s.S3
	ns.S3 = &nodeconfig.EtcdS3{
		Endpoint: s3.Endpoint, Bucket: s3.Bucket, Folder: s3.Folder, Region: s3.Region,
		Insecure: s3.Insecure, AccessKey: s3.AccessKey,
	}
	if s3.SecretKeyFile != "" {
		data, err := smallfile.Read(s3.SecretKeyFile, site.MaxSecretFileBytes)
		if err != nil {
			return nil, fmt.Errorf("etcd snapshots S3 secret key: %w", err)
		}
		w.secrets[clustersecrets.EtcdS3SecretKey] = []byte(strings.TrimSpace(string(data)) + "\n")
		ns.S3.SecretKey = true
	}
	if s3.EndpointCA != "" {
		data, err := smallfile.Read(s3.EndpointCA, site.MaxCAFileBytes)
		if err != nil {
			return nil, fmt.Errorf("etcd snapshots S3 endpoint CA: %w", err)
		}
		w.dir(nodeconfig.ClusterDir)
		w.file(nodeconfig.EtcdS3EndpointCAPath, certFileMode, data)
		ns.S3.EndpointCA = true
		sum := sha256.Sum256(data)
		b.addInput("etcd-s3-endpoint-ca", s3.EndpointCA, "sha256:"+hex.EncodeToString(sum[:]), int64(len(data)))
	}
	return ns, nil
}

// clusterFiles adds the public cluster files under nodeconfig.ClusterDir to
// the tree, keeping the first error, and collects the secrets volume.
type clusterFiles struct {
	tree    *rootfs.Tree
	secrets clustersecrets.Volume
	made    map[string]bool
	err     error
}

func (w *clusterFiles) dir(p string) {
	if w.err == nil && !w.made[p] {
		w.err = w.tree.Mkdir(p, publicDirMode, rootfs.FileOptions{Origin: "cluster-identity"})
		if w.made == nil {
			w.made = map[string]bool{}
		}
		w.made[p] = true
	}
}

func (w *clusterFiles) file(p string, mode fs.FileMode, data []byte) {
	if w.err == nil {
		w.err = w.tree.AddFile(p, mode, data, rootfs.FileOptions{Origin: "cluster-identity"})
	}
}
