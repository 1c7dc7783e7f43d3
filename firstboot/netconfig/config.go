// Package netconfig turns cloud-init network configuration version 2 (the
// netplan-like format a NoCloud seed carries in its network-config file) into
// systemd-networkd files for the appliance's Debian base OS.
//
// It owns three steps, each usable alone:
//
//	cfg, warnings, err := netconfig.Parse("network-config", data) // decode and validate
//	files, err := netconfig.Render(cfg)                            // .network/.netdev/.link files
//	changed, err := netconfig.Apply("/", files)                    // write under /etc/systemd/network
//
// FromInventory builds a Config for the other source of a node's address: the
// site inventory (one static NIC matched by MAC).
//
// # Supported subset
//
// ethernets (match {name, macaddress, driver}, set-name), bonds (interfaces,
// parameters {mode, lacp-rate, mii-monitor-interval, transmit-hash-policy,
// primary}) and vlans (id, link), each with dhcp4, dhcp6, addresses,
// gateway4, gateway6, routes {to, via, metric, on-link}, nameservers
// {addresses, search}, mtu and optional. A key outside this subset is a
// warning naming its full path; a bad value is an error naming the line.
// Parse checks everything before it returns, so a bad file changes nothing.
//
// # Rendering
//
// Every file is named 10-cloud-config-<ID>.<ext>: the base OS's catch-all
// 80-dhcp.network (DHCP on en* and eth*) sorts after it, and systemd-networkd
// uses the first .network file that matches a link, so a configured NIC takes
// this configuration and any other NIC keeps DHCP.
//
//   - match.macaddress becomes PermanentMACAddress=, not MACAddress=, in
//     .network and .link files: bond members take the bond's MAC and a bond or
//     VLAN shares a member's or parent's, so a current-MAC match would miss a
//     bond member and catch (or rename) a bond or VLAN; virtual devices have
//     no permanent address. An ethernet matched by a name glob also gets
//     Type=ether so the glob cannot catch a bond or VLAN named alike.
//   - set-name becomes a .link file ([Match] PermanentMACAddress=,
//     OriginalName=, Driver=; [Link] Name=). udev applies .link files only
//     when a device is added, so a rename takes effect on the next boot;
//     until then the .network file still matches the device by MAC, or by
//     its old name when match.name is given (matched by driver alone, it
//     matches only once renamed). OriginalName= is the kernel's name (eth0),
//     so a set-name matched by a predictable name (ens3) never applies.
//   - A bond is a .netdev (Kind=bond, [Bond] Mode= ...) and a .network; each
//     member's .network says Bond= (and PrimarySlave=yes for the primary).
//   - A VLAN is a .netdev (Kind=vlan, [VLAN] Id=) and a .network; its
//     parent's .network says VLAN=.
//
// When the matches of two ethernets overlap (a MAC and a glob that both
// catch one NIC), the entry whose ID sorts first wins, as with netplan.
package netconfig

import (
	"net/netip"
	"time"
)

// Config is a parsed, validated network configuration. IDs are the keys under
// ethernets, bonds and vlans; they are unique across the three.
type Config struct {
	// Disabled is `config: disabled`: render nothing, leave the OS default.
	Disabled  bool
	Ethernets []Ethernet
	Bonds     []Bond
	VLANs     []VLAN
}

// Ethernet is one entry under ethernets.
type Ethernet struct {
	// ID is the interface name when Match is nil, an opaque label otherwise.
	ID      string
	Match   *Match
	SetName string
	Addressing
}

// Match selects physical devices; every field given must match.
type Match struct {
	Name       string // shell glob on the interface name
	MACAddress string
	Driver     string // shell glob on the kernel driver
}

// Bond is one entry under bonds; its ID is the bond's interface name.
type Bond struct {
	ID         string
	Interfaces []string // IDs of ethernets
	Parameters BondParameters
	Addressing
}

// BondParameters are the supported bonds.<id>.parameters; "" or 0 is the
// kernel default.
type BondParameters struct {
	Mode               string
	LACPRate           string
	TransmitHashPolicy string
	MIIMonitorInterval time.Duration
	Primary            string // ID of one of the bond's interfaces
}

// VLAN is one entry under vlans; its ID is the VLAN's interface name.
type VLAN struct {
	ID     string
	VLANID int
	Link   string // ID of an ethernet or bond
	Addressing
}

// Addressing is the layer-3 configuration every device type shares.
type Addressing struct {
	DHCP4, DHCP6 bool
	Addresses    []string // CIDR: 192.0.2.10/24
	Gateway4     string
	Gateway6     string
	Routes       []Route
	Nameservers  Nameservers
	MTU          int // 0: unset
	// Optional devices are not waited for at boot (RequiredForOnline=no).
	Optional bool
}

// Nameservers are DNS servers and search domains.
type Nameservers struct {
	Addresses []string
	Search    []string
}

// Route is a static route. To is a prefix, a single address or "default".
type Route struct {
	To     string
	Via    string
	Metric *uint32
	OnLink bool
}

// inventoryID names the ethernet FromInventory makes.
const inventoryID = "inventory"

// FromInventory returns a static configuration for the NIC with MAC address
// mac: address in CIDR form, an IPv4 or IPv6 gateway (or ""), DNS servers.
// It renders as 10-cloud-config-inventory.network. It does not check its
// arguments; Render reports a bad or missing address or MAC.
func FromInventory(address, gateway string, dns []string, mac string) Config {
	eth := Ethernet{ID: inventoryID, Match: &Match{MACAddress: mac}}
	eth.Addresses = []string{address}
	if gw, err := netip.ParseAddr(gateway); err == nil && gw.Is6() && !gw.Is4In6() {
		eth.Gateway6 = gateway
	} else {
		eth.Gateway4 = gateway
	}
	if len(dns) > 0 {
		eth.Nameservers.Addresses = append([]string(nil), dns...)
	}
	return Config{Ethernets: []Ethernet{eth}}
}

// HasDefaultRoute reports whether the configuration can give the node a
// default route: a gateway4 or gateway6, a route to default, 0.0.0.0/0 or
// ::/0, or DHCP on some interface. A disabled Config configures nothing and
// reports false.
func (c Config) HasDefaultRoute() bool {
	for _, a := range c.addressings() {
		if a.DHCP4 || a.DHCP6 || a.Gateway4 != "" || a.Gateway6 != "" {
			return true
		}
		for _, r := range a.Routes {
			if r.To == "default" {
				return true
			}
			if p, err := netip.ParsePrefix(r.To); err == nil && p.Bits() == 0 {
				return true
			}
		}
	}
	return false
}

func (c Config) addressings() []Addressing {
	var out []Addressing
	for _, e := range c.Ethernets {
		out = append(out, e.Addressing)
	}
	for _, b := range c.Bonds {
		out = append(out, b.Addressing)
	}
	for _, v := range c.VLANs {
		out = append(out, v.Addressing)
	}
	return out
}
