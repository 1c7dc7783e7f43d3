package nodeconfig

// Files of the cluster identity in the image. The directory and every key
// and token in it are root-only (0700 and 0600); certificates are 0644.
const (
	// ClusterDir holds the cluster's secrets.
	ClusterDir = "/etc/appliance/cluster"
	// TokenPath holds the cluster token's secret alone, one line: what the
	// initial server is given (K3s token or token-file).
	TokenPath = ClusterDir + "/token"
	// JoinTokenPath holds the token joining servers and agents are given.
	// With a cluster CA (Cluster.CA) it is K3s's full form
	// "K10<CA hash>::server:<secret>", so they verify the cluster CA before
	// sending the secret; without one it is the secret alone.
	JoinTokenPath = ClusterDir + "/join-token"
	// CADir holds the cluster CA (Cluster.CA), laid out as K3s's
	// <data-dir>/server/tls: client-ca, server-ca, request-header-ca,
	// etcd/server-ca and etcd/peer-ca, each a .crt (the CA, its intermediate
	// and the root) and a .key. Copy it to /var/lib/rancher/k3s/server/tls on
	// the initial server before K3s first starts there, and nowhere else:
	// joining servers receive the CA from the cluster.
	CADir = ClusterDir + "/tls"
	// EtcdS3SecretKeyPath holds the S3 secret key of etcd snapshots
	// (EtcdS3.SecretKey).
	EtcdS3SecretKeyPath = ClusterDir + "/etcd-s3-secret-key"
	// EtcdS3EndpointCAPath holds the CA bundle the S3 endpoint of etcd
	// snapshots is verified with (EtcdS3.EndpointCA).
	EtcdS3EndpointCAPath = ClusterDir + "/etcd-s3-ca.crt"
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
	// Token says the image holds TokenPath and JoinTokenPath.
	Token bool `yaml:"token,omitempty"`
	// CA says the image holds a cluster CA at CADir, and JoinTokenPath
	// pins it.
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
	// SecretKey says the image holds the secret key at EtcdS3SecretKeyPath.
	SecretKey bool `yaml:"secretKey,omitempty"`
	// EndpointCA says the image holds a CA bundle at EtcdS3EndpointCAPath.
	EndpointCA bool `yaml:"endpointCA,omitempty"`
}
