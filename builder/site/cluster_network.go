package site

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Network is the site network that nodes with a static address use.
type Network struct {
	// Gateway is the default route's next hop: an IP address inside the
	// subnet of every static node address of its family.
	Gateway string `yaml:"gateway"`
	// DNS are name server IP addresses.
	DNS []string `yaml:"dns"`
	// NTP are time servers, names or IP addresses.
	NTP []string `yaml:"ntp"`
}

// IsZero reports whether the section is left out.
func (n Network) IsZero() bool { return n.Gateway == "" && n.DNS == nil && n.NTP == nil }

// defaultServer is https://<initial server's address>:6443, or "" when the
// initial server has no (valid) static address.
func (c *Cluster) defaultServer() string {
	for _, n := range c.Nodes {
		if !n.Init || n.Address == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(n.Address)
		if err != nil {
			return ""
		}
		return "https://" + net.JoinHostPort(pfx.Addr().String(), strconv.Itoa(nodeconfig.K3sServerPort))
	}
	return ""
}

// serverHost is the host of Server, or "" when it does not parse.
func (c *Cluster) serverHost() string {
	u, err := url.Parse(c.Server)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (c *Cluster) checkServer(v *validator) {
	if c.Server == "" {
		if len(c.Nodes) < 2 {
			return
		}
		why := "no node has init: true to take it from"
		for i, n := range c.Nodes {
			if n.Init {
				if n.Address != "" {
					return // the address is invalid, and said so
				}
				why = "it defaults to the initial server's address, and " + index("cluster.nodes", i) + " has none"
				break
			}
		}
		v.errorf("cluster.server", "required with more than one node: the https URL joining nodes dial, like https://10.0.0.10:6443 (%s)", why)
		return
	}
	u, err := url.Parse(c.Server)
	switch {
	case err != nil:
		v.errorf("cluster.server", "invalid URL %q", c.Server)
	case u.Scheme != "https":
		v.errorf("cluster.server", "want an https URL like https://10.0.0.10:6443, got %q (K3s joins over https only)", c.Server)
	case u.Hostname() == "":
		v.errorf("cluster.server", "invalid URL %q: no host", c.Server)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		v.errorf("cluster.server", "want https://HOST[:PORT] alone, got %q", c.Server)
	}
}

// dnsName is a DNS name of letters, digits and '-' labels, optionally a
// wildcard ("*.apps.example").
var dnsName = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// validHostOrIP accepts an IP address or a DNS name whose last label is not
// all digits (10.00.0.1 is a mistyped address, not a name).
func validHostOrIP(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	last := s[strings.LastIndex(s, ".")+1:]
	return len(s) <= 253 && dnsName.MatchString(s) && strings.Trim(last, "0123456789") != ""
}

func (c *Cluster) checkTLSSAN(v *validator) {
	seen := map[string]string{}
	for i, san := range c.TLSSAN {
		p := index("cluster.tlsSAN", i)
		key := strings.ToLower(san)
		if a, err := netip.ParseAddr(san); err == nil {
			key = a.String()
		}
		switch {
		case !validHostOrIP(san):
			v.errorf(p, "invalid name %q: want a DNS name (letters, digits, '-' and '.', optionally starting with *.) or an IP address", san)
		case seen[key] != "":
			v.errorf(p, "duplicate %q (also %s)", san, seen[key])
		default:
			seen[key] = p
		}
	}
}

func (c *Cluster) checkDisable(v *validator) {
	seen := map[string]string{}
	for i, item := range c.Disable {
		p := index("cluster.disable", i)
		switch {
		case !slices.Contains(payload.K3sDisableItems, item):
			v.errorf(p, "unknown K3s component %q (want one of %s)", item, strings.Join(payload.K3sDisableItems, ", "))
		case seen[item] != "":
			v.errorf(p, "duplicate %q (also %s)", item, seen[item])
		default:
			seen[item] = p
		}
	}
}

// checkNetwork validates cluster.network, and that each static address can
// reach the gateway.
func (c *Cluster) checkNetwork(v *validator) {
	n := c.Network
	var gw netip.Addr
	if n.Gateway != "" {
		var err error
		if gw, err = netip.ParseAddr(n.Gateway); err != nil {
			v.errorf("cluster.network.gateway", "invalid address %q: want an IP address without prefix length", n.Gateway)
		}
	}
	for i, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			v.errorf(index("cluster.network.dns", i), "invalid address %q: want a name server's IP address", d)
		}
	}
	for i, s := range n.NTP {
		if !validHostOrIP(s) || strings.HasPrefix(s, "*") {
			v.errorf(index("cluster.network.ntp", i), "invalid server %q: want a host name or an IP address", s)
		}
	}
	static := false
	for i, node := range c.Nodes {
		pfx, err := netip.ParsePrefix(node.Address)
		if err != nil {
			continue // no static address, or an invalid one (reported)
		}
		static = true
		if gw.IsValid() && gw.Is4() == pfx.Addr().Is4() && !pfx.Masked().Contains(gw) {
			v.errorf(index("cluster.nodes", i)+".address", "%s does not contain the gateway %s (cluster.network.gateway): the node could not reach it", node.Address, gw)
		}
	}
	if !static && !n.IsZero() {
		v.warnf("cluster.network", "no node has a static address: nodes on DHCP take gateway, DNS and NTP servers from it, so this section is unused")
	}
}
