package site

import (
	"net/netip"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

func (c *Cluster) validate(v *validator) {
	if !validRole(c.DefaultRole) {
		v.errorf("cluster.defaultRole", "unsupported role %q (want server or agent)", c.DefaultRole)
	}
	hostnames := map[string]string{}
	macs := map[string]string{}
	serials := map[string]string{}
	addrs := map[netip.Addr]string{}
	initNode, servers := "", 0
	for i, n := range c.Nodes {
		p := index("cluster.nodes", i)
		switch {
		case n.Hostname == "":
			v.errorf(p+".hostname", "required")
		case !dnsLabel.MatchString(n.Hostname):
			v.errorf(p+".hostname", "invalid hostname %q: %s", n.Hostname, dnsLabelRule)
		case hostnames[n.Hostname] != "":
			v.errorf(p+".hostname", "duplicate hostname %q (also %s)", n.Hostname, hostnames[n.Hostname])
		default:
			hostnames[n.Hostname] = p
		}
		if n.MAC != "" {
			mac, err := parseMAC(n.MAC)
			switch {
			case err != nil:
				v.errorf(p+".mac", "invalid MAC %q (want six hex pairs like 52:54:00:12:34:56)", n.MAC)
			case macs[mac] != "":
				v.errorf(p+".mac", "duplicate MAC %s (also %s)", mac, macs[mac])
			default:
				macs[mac] = p
			}
		}
		if n.Serial != "" || v.src.has(p+".serial") {
			checkSerial(v, p+".serial", n.Serial, serials)
		}
		checkLabels(v, p+".labels", n.Labels)
		checkTaints(v, p+".taints", n.Taints)
		if n.Role != "" && !validRole(n.Role) {
			v.errorf(p+".role", "unsupported role %q (want server or agent)", n.Role)
		}
		if n.Role == nodeconfig.RoleServer {
			servers++
		}
		if n.Init {
			switch {
			case n.Role == nodeconfig.RoleAgent:
				v.errorf(p+".init", "only a server can initialise the cluster (role is agent)")
			case initNode != "":
				v.errorf(p+".init", "a second initial server (%s has init: true): exactly one node initialises the cluster", initNode)
			default:
				initNode = p
			}
		}
		if n.Address != "" {
			checkAddress(v, p+".address", n.Address, addrs)
		}
	}
	if initNode == "" && c.DefaultRole == nodeconfig.RoleAgent {
		v.warnf("cluster", "no initial server: no node has init: true and defaultRole is agent, so nothing initialises the cluster; mark one server with init: true")
	}
	if servers >= 2 && servers%2 == 0 {
		v.warnf("cluster.nodes", "%d servers: etcd needs a majority, so an even count tolerates no more failures than one server fewer; use an odd number", servers)
	}
	for i, key := range c.SSH.AuthorizedKeys {
		checkAuthorizedKey(v, index("cluster.ssh.authorizedKeys", i), key, c.SSH.AuthorizedKeys[:i])
	}
	c.validateK3s(v)
}

// validateK3s checks the settings K3s takes: identity, server, components,
// network and etcd snapshots.
func (c *Cluster) validateK3s(v *validator) {
	c.Token.check(v, "cluster.token")
	if c.CA != CAGenerate && c.CA != CANone {
		v.errorf("cluster.ca", "unsupported %q (want %s or %s)", c.CA, CAGenerate, CANone)
	}
	c.checkServer(v)
	c.checkTLSSAN(v)
	c.checkDisable(v)
	c.checkNetwork(v)
	c.EtcdSnapshots.validate(v)
}

// checkAddress wants a host address with its prefix length, unique in the inventory.
func checkAddress(v *validator, path, addr string, seen map[netip.Addr]string) {
	pfx, err := netip.ParsePrefix(addr)
	if err != nil {
		v.errorf(path, "invalid address %q: want an IP address with a prefix length, like 10.0.0.10/24", addr)
		return
	}
	if pfx.Bits() < pfx.Addr().BitLen()-1 && pfx.Addr() == pfx.Masked().Addr() {
		v.errorf(path, "%s is the network address of its subnet, not a host address", addr)
		return
	}
	if other, ok := seen[pfx.Addr()]; ok {
		v.errorf(path, "duplicate address %s (also %s)", pfx.Addr(), other)
		return
	}
	seen[pfx.Addr()] = path
}
