package nodeconfig

// Files of the cluster identity on a node.
//
// The image holds only what is public: the cluster CA's certificates
// (CADir) and the S3 endpoint's CA bundle. The secrets (tokens, CA keys,
// the S3 secret key) are never in the image: the builder writes them to a
// secrets volume (package clustersecrets) and firstboot installs, under
// SecretsDir on STATE, what the node's role needs: a server all of them, an
// agent the agent join token alone. SecretsDir is root-only (0700), every
// file in it 0600.
const (
	// ClusterDir holds the image's public cluster files.
	ClusterDir = "/etc/appliance/cluster"
	// CADir holds the cluster CA's certificates (Cluster.CA), laid out as
	// K3s's <data-dir>/server/tls: client-ca, server-ca, request-header-ca,
	// etcd/server-ca and etcd/peer-ca, each a .crt (the CA, its
	// intermediate and the root). Their keys are in SecretsDir/tls.
	CADir = ClusterDir + "/tls"
	// EtcdS3EndpointCAPath holds the CA bundle the S3 endpoint of etcd
	// snapshots is verified with (EtcdS3.EndpointCA).
	EtcdS3EndpointCAPath = ClusterDir + "/etcd-s3-ca.crt"

	// SecretsDir holds the node's cluster secrets, on STATE.
	SecretsDir = "/var/lib/appliance/cluster"
	// TokenPath holds the server token's secret alone, one line: what the
	// initial server is given (K3s token-file).
	TokenPath = SecretsDir + "/token"
	// JoinTokenPath holds the token joining servers are given. With a
	// cluster CA (Cluster.CA) it is K3s's full form
	// "K10<CA hash>::server:<secret>", so they verify the cluster CA before
	// sending the secret; without one it is the secret alone.
	JoinTokenPath = SecretsDir + "/join-token"
	// AgentTokenPath holds the agent token's secret alone: every server's
	// K3s agent-token-file.
	AgentTokenPath = SecretsDir + "/agent-token"
	// AgentJoinTokenPath holds the token agents join with:
	// "K10<CA hash>::node:<agent secret>" with a cluster CA.
	AgentJoinTokenPath = SecretsDir + "/agent-join-token"
	// CAKeyDir holds the cluster CA's private keys, beside the names of
	// their certificates in CADir.
	CAKeyDir = SecretsDir + "/tls"
	// EtcdS3SecretKeyPath holds the S3 secret key of etcd snapshots
	// (EtcdS3.SecretKey).
	EtcdS3SecretKeyPath = SecretsDir + "/etcd-s3-secret-key"
)

// K3sServerPort is where a K3s server listens for joining nodes and the
// Kubernetes API (K3s's https-listen-port default).
const K3sServerPort = 6443

// Cluster is the cluster-wide K3s settings, the same on every node.
type Cluster struct {
	// Server is the https URL joining servers and agents dial; empty when
	// the site gives none and its initial server has no static address
	// (possible only with a single-node inventory).
	Server string `yaml:"server,omitempty"`
	// Token says the site's secrets volume holds the server and agent
	// tokens: a server finds them at TokenPath, JoinTokenPath and
	// AgentTokenPath, an agent at AgentJoinTokenPath (or in its
	// cloud-config, netbooted).
	Token bool `yaml:"token,omitempty"`
	// CA says the image holds a cluster CA's certificates at CADir, the
	// secrets volume its keys (CAKeyDir), and the join tokens pin it.
	CA bool `yaml:"ca,omitempty"`
	// TLSSAN are extra names and addresses in the servers' certificates
	// (K3s tls-san).
	TLSSAN []string `yaml:"tlsSAN,omitempty"`
	// Disable lists K3s packaged components servers do not deploy (K3s
	// disable), such as traefik.
	Disable []string `yaml:"disable,omitempty"`
	// SecretsEncryption turns on encryption of Secrets at rest (K3s
	// secrets-encryption).
	SecretsEncryption bool `yaml:"secretsEncryption,omitempty"`
	// Network is what nodes with a static Node.Address use besides it.
	Network *Network `yaml:"network,omitempty"`
	// EtcdSnapshots configures the servers' etcd snapshots.
	EtcdSnapshots *EtcdSnapshots `yaml:"etcdSnapshots,omitempty"`
}

// Network is the site network of statically addressed nodes.
type Network struct {
	// Gateway is the default route's next hop, an IP address.
	Gateway string `yaml:"gateway,omitempty"`
	// DNS are name server addresses.
	DNS []string `yaml:"dns,omitempty"`
	// NTP are time server names or addresses.
	NTP []string `yaml:"ntp,omitempty"`
}

// EtcdSnapshots configures K3s's scheduled etcd snapshots on servers.
type EtcdSnapshots struct {
	// Schedule is a cron spec (K3s etcd-snapshot-schedule-cron).
	Schedule string `yaml:"schedule"`
	// Retention is how many snapshots are kept (K3s etcd-snapshot-retention).
	Retention int `yaml:"retention"`
	// S3 also uploads each snapshot to an S3 bucket; nil keeps them local.
	S3 *EtcdS3 `yaml:"s3,omitempty"`
}

// EtcdS3 is the S3 bucket etcd snapshots are uploaded to (K3s etcd-s3-*).
type EtcdS3 struct {
	// Endpoint is host[:port], without scheme.
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	Folder   string `yaml:"folder,omitempty"`
	Region   string `yaml:"region,omitempty"`
	// Insecure talks plain http to Endpoint.
	Insecure bool `yaml:"insecure,omitempty"`
	// AccessKey identifies the S3 user; not a secret.
	AccessKey string `yaml:"accessKey,omitempty"`
	// SecretKey says the secrets volume holds the secret key: servers find
	// it at EtcdS3SecretKeyPath.
	SecretKey bool `yaml:"secretKey,omitempty"`
	// EndpointCA says the image holds a CA bundle at EtcdS3EndpointCAPath.
	EndpointCA bool `yaml:"endpointCA,omitempty"`
}
