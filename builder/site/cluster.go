package site

import (
	"errors"
	"net"
	"net/netip"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// Cluster describes the K3s cluster the nodes form and the site's inventory:
// one image serves every node, and firstboot finds its own entry.
type Cluster struct {
	// Token is the cluster's shared secret: TokenGenerate (default),
	// "file:PATH" or the secret itself.
	Token Token `yaml:"token"`
	// CA is CAGenerate (default) or CANone.
	//
	// Generate is the default because it costs nothing in security and
	// buys verification: the token the image must carry already lets a
	// node join as a server, and a joining server receives every CA key
	// from the cluster, so baking the CA keys exposes nothing the token
	// does not. In return joining nodes verify the servers against the CA
	// hash in their K10 token instead of trusting the first server they
	// reach, and the cluster keeps its CA across reinstalls. The root and
	// intermediate keys stay out of the image.
	CA string `yaml:"ca"`
	// Server is the https URL joining nodes dial; default
	// https://<initial server's address>:6443 when it has a static address.
	Server string `yaml:"server"`
	// TLSSAN are extra names and addresses in the servers' certificates;
	// the host of Server is added when missing.
	TLSSAN []string `yaml:"tlsSAN"`
	// Disable lists K3s packaged components not to deploy (traefik, ...).
	Disable []string `yaml:"disable"`
	// SecretsEncryption encrypts Secrets at rest in etcd.
	SecretsEncryption bool `yaml:"secretsEncryption"`
	// Network gives nodes with a static address their gateway, DNS and NTP.
	Network Network `yaml:"network"`
	// EtcdSnapshots configures the servers' etcd snapshots.
	EtcdSnapshots EtcdSnapshots `yaml:"etcdSnapshots"`
	// DefaultRole is the role of a node the inventory does not list, and of a
	// listed node without a role: nodeconfig.RoleServer or RoleAgent (default).
	DefaultRole string `yaml:"defaultRole"`
	Nodes       []Node `yaml:"nodes"`
	SSH         SSH    `yaml:"ssh"`
}

// Node is one inventory entry; see nodeconfig.Node for how a node finds it.
type Node struct {
	// Hostname is a DNS label, unique in the inventory.
	Hostname string `yaml:"hostname"`
	// MAC is the address of one of the node's NICs, in lowercase colon form
	// once defaults are set.
	MAC string `yaml:"mac"`
	// Serial is the machine's DMI system serial number, unique.
	Serial string `yaml:"serial"`
	// Role is server or agent; default Cluster.DefaultRole.
	Role string `yaml:"role"`
	// Init marks the one server that initialises the cluster.
	Init bool `yaml:"init"`
	// Address is a static address in CIDR form; empty means DHCP.
	Address string `yaml:"address"`
	// Labels are node labels, each "key=value".
	Labels []string `yaml:"labels"`
	// Taints are node taints, each "key[=value]:Effect".
	Taints []string `yaml:"taints"`
}

// SSH configures access to the nodes.
type SSH struct {
	// AuthorizedKeys are installed for root, one authorized_keys line each.
	AuthorizedKeys []string `yaml:"authorizedKeys"`
}

func (c *Cluster) setDefaults(*Site) {
	if c.Token == "" {
		c.Token = TokenGenerate
	}
	if c.CA == "" {
		c.CA = CAGenerate
	}
	if c.DefaultRole == "" {
		c.DefaultRole = nodeconfig.RoleAgent
	}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		// A bad defaultRole is reported once, at defaultRole, not again at
		// every node that would inherit it.
		if n.Role == "" && validRole(c.DefaultRole) {
			n.Role = c.DefaultRole
		}
		if mac, err := parseMAC(n.MAC); err == nil {
			n.MAC = mac
		}
	}
	if c.Server == "" {
		c.Server = c.defaultServer()
	}
	c.addServerSAN()
	c.EtcdSnapshots.setDefaults()
}

// addServerSAN puts the host of Server into TLSSAN when missing: a server
// certificate without the name joining nodes dial fails their TLS check.
func (c *Cluster) addServerSAN() {
	host := c.serverHost()
	if host == "" || !validHostOrIP(host) {
		return
	}
	for _, san := range c.TLSSAN {
		if san == host {
			return
		}
		if a, err := netip.ParseAddr(san); err == nil && a.String() == host {
			return
		}
	}
	c.TLSSAN = append(c.TLSSAN, host)
}

func (c *Cluster) resolvePaths(dir string) {
	c.Token.resolvePath(dir)
	c.EtcdSnapshots.resolvePaths(dir)
}

func validRole(r string) bool {
	return r == nodeconfig.RoleServer || r == nodeconfig.RoleAgent
}

var errBadMAC = errors.New("invalid MAC")

// parseMAC accepts an EUI-48 address in any form net.ParseMAC knows and
// returns it in lowercase colon form.
func parseMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", errBadMAC
	}
	return hw.String(), nil
}
