package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// Modes of the cluster files in the image: the directories and every
// secret are root-only.
const (
	secretDirMode  fs.FileMode = 0o700
	secretFileMode fs.FileMode = 0o600
	certFileMode   fs.FileMode = 0o644
)

// clusterConfig bakes the cluster identity (token, join token, CA) and the
// etcd snapshots' S3 files into the tree, records them in the report, and
// returns the node config's cluster section. A site without K3s gets none
// of it: there is no cluster to join.
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
	w := &clusterFiles{tree: tree}
	w.dir(nodeconfig.ClusterDir)
	w.secret(nodeconfig.TokenPath, []byte(id.secret+"\n"))
	w.secret(nodeconfig.JoinTokenPath, []byte(id.joinToken()+"\n"))
	rep := &report.ClusterIdentity{Token: id.tokenSource, CA: c.CA}
	if id.ca != nil {
		rep.CAHash = id.ca.hash
		w.dir(nodeconfig.CADir)
		for _, name := range sortedKeys(id.ca.files) {
			p := path.Join(nodeconfig.CADir, name)
			w.dir(path.Dir(p))
			if strings.HasSuffix(name, ".key") {
				w.secret(p, id.ca.files[name])
			} else {
				w.file(p, certFileMode, id.ca.files[name])
			}
		}
	}
	if c.Token.Generate() || c.CA == site.CAGenerate {
		rep.SecretsDir = filepath.ToSlash(secretsRel)
	}
	nc.EtcdSnapshots, err = b.etcdSnapshots(w, &c.EtcdSnapshots)
	if err != nil {
		return nil, err
	}
	if w.err != nil {
		return nil, w.err
	}
	rep.ImageSecrets = w.secrets
	b.report.ClusterIdentity = rep
	b.log.Info("cluster identity", "token", id.tokenSource, "ca", c.CA, "kept in", secretsDir)
	return nc, nil
}

// etcdSnapshots is the node config's snapshot settings; the S3 secret key
// and endpoint CA files are baked into the image.
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
		data, err := os.ReadFile(s3.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd snapshots S3 secret key: %w", err)
		}
		w.secret(nodeconfig.EtcdS3SecretKeyPath, []byte(strings.TrimSpace(string(data))+"\n"))
		ns.S3.SecretKey = true
	}
	if s3.EndpointCA != "" {
		data, err := os.ReadFile(s3.EndpointCA)
		if err != nil {
			return nil, fmt.Errorf("etcd snapshots S3 endpoint CA: %w", err)
		}
		w.file(nodeconfig.EtcdS3EndpointCAPath, certFileMode, data)
		ns.S3.EndpointCA = true
		sum := sha256.Sum256(data)
		b.addInput("etcd-s3-endpoint-ca", s3.EndpointCA, "sha256:"+hex.EncodeToString(sum[:]), int64(len(data)))
	}
	return ns, nil
}

// clusterFiles adds files under nodeconfig.ClusterDir to the tree, keeping
// the first error and the list of secrets.
type clusterFiles struct {
	tree    *rootfs.Tree
	secrets []string
	err     error
}

func (w *clusterFiles) dir(p string) {
	if w.err == nil {
		w.err = w.tree.Mkdir(p, secretDirMode, rootfs.FileOptions{Origin: "cluster-identity"})
	}
}

func (w *clusterFiles) file(p string, mode fs.FileMode, data []byte) {
	if w.err == nil {
		w.err = w.tree.AddFile(p, mode, data, rootfs.FileOptions{Origin: "cluster-identity"})
	}
}

func (w *clusterFiles) secret(p string, data []byte) {
	w.file(p, secretFileMode, data)
	w.secrets = append(w.secrets, p)
}
