package site

import (
	"errors"
	"net"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// Cluster describes the K3s cluster the nodes form and the site's inventory:
// one image serves every node, and firstboot finds its own entry.
type Cluster struct {
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
	// Role is server or agent; default Cluster.DefaultRole.
	Role string `yaml:"role"`
	// Init marks the one server that initialises the cluster.
	Init bool `yaml:"init"`
	// Address is a static address in CIDR form; empty means DHCP.
	Address string `yaml:"address"`
}

// SSH configures access to the nodes.
type SSH struct {
	// AuthorizedKeys are installed for root, one authorized_keys line each.
	AuthorizedKeys []string `yaml:"authorizedKeys"`
}

func (c *Cluster) setDefaults(*Site) {
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
