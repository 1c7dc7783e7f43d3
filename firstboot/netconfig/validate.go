package netconfig

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"unicode"
)

// problem is one validation failure: the path of the offending value
// (ethernets.eth0.addresses[1]) and "want ..., got ...".
type problem struct {
	path, msg string
}

type checker struct {
	problems []problem
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, problem{path, fmt.Sprintf(format, args...)})
}

const (
	minMTU, maxMTU = 68, 65535
	ifnameWant     = "at most 15 letters, digits, \".\", \"_\" or \"-\""
)

// validate checks values and references. Parse reports its problems with
// lines; Render refuses a Config that has any.
func (c Config) validate() []problem {
	if c.Disabled {
		return nil
	}
	ch := &checker{}
	owner := map[string]string{} // ID -> section that defines it
	ethernets := map[string]Ethernet{}
	setNames := map[string]string{}
	for _, e := range c.Ethernets {
		path := "ethernets." + e.ID
		ch.unique(path, e.ID, "ethernets", owner)
		ethernets[e.ID] = e
		switch {
		case e.Match == nil && !validIfname(e.ID):
			ch.add(path, "without match, the ID is the interface name: want %s, got %q", ifnameWant, e.ID)
		case e.Match != nil && !validID(e.ID):
			ch.add(path, "want an ID of letters, digits, \".\", \"_\" or \"-\", got %q", e.ID)
		case e.Match != nil:
			ch.match(path+".match", *e.Match)
		}
		if e.SetName != "" {
			ch.setName(path, e, setNames)
		}
		ch.addressing(path, e.Addressing)
	}
	members := map[string]string{} // ethernet ID -> bond ID
	for _, b := range c.Bonds {
		ch.bond(b, owner, ethernets, members)
	}
	vids := map[string]string{} // link/VLAN ID -> vlans entry
	for _, v := range c.VLANs {
		path := "vlans." + v.ID
		ch.unique(path, v.ID, "vlans", owner)
		ch.virtualName(path, v.ID, "VLAN")
		if v.VLANID < 1 || v.VLANID > 4094 {
			ch.add(path+".id", "want a VLAN ID in 1..4094, got %d", v.VLANID)
		} else if other, dup := vids[fmt.Sprint(v.Link, "/", v.VLANID)]; dup {
			ch.add(path+".id", "want an ID not already used on link %s (by vlans.%s), got %d", v.Link, other, v.VLANID)
		} else {
			vids[fmt.Sprint(v.Link, "/", v.VLANID)] = v.ID
		}
		if s := owner[v.Link]; s != "ethernets" && s != "bonds" {
			ch.add(path+".link", "want the ID of an ethernet or bond defined in this file, got %s", quoteOrNone(v.Link))
		}
		ch.addressing(path, v.Addressing)
	}
	return ch.problems
}

// unique checks an ID is not defined twice across sections.
func (ch *checker) unique(path, id, section string, owner map[string]string) {
	if s, dup := owner[id]; dup {
		ch.add(path, "want an ID not used elsewhere in the file, got %q (also under %s)", id, s)
		return
	}
	owner[id] = section
}

func (ch *checker) virtualName(path, id, kind string) {
	if !validIfname(id) {
		ch.add(path, "the ID is the %s's interface name: want %s, got %q", kind, ifnameWant, id)
	}
}

func (ch *checker) match(path string, m Match) {
	if m == (Match{}) {
		ch.add(path, "want name, macaddress or driver, got none")
	}
	if strings.ContainsFunc(m.Name, isSpace) {
		ch.add(path+".name", "want a name or glob without spaces or control characters, got %q", m.Name)
	}
	if m.MACAddress != "" {
		if hw, err := net.ParseMAC(m.MACAddress); err != nil || len(hw) != 6 {
			ch.add(path+".macaddress", "want a MAC address like 52:54:00:12:34:56, got %q", m.MACAddress)
		}
	}
	if strings.ContainsFunc(m.Driver, isSpace) {
		ch.add(path+".driver", "want a driver name or glob without spaces or control characters, got %q", m.Driver)
	}
}

func (ch *checker) setName(path string, e Ethernet, setNames map[string]string) {
	path += ".set-name"
	switch other, dup := setNames[e.SetName]; {
	case e.Match == nil:
		ch.add(path, "want match beside set-name (without match the ID is the name), got no match")
	case !validIfname(e.SetName):
		ch.add(path, "want %s, got %q", ifnameWant, e.SetName)
	case dup:
		ch.add(path, "want a name no other ethernet sets, got %q (also set by ethernets.%s)", e.SetName, other)
	default:
		setNames[e.SetName] = e.ID
	}
}

func (ch *checker) addressing(path string, a Addressing) {
	for i, s := range a.Addresses {
		if _, err := netip.ParsePrefix(s); err != nil {
			ch.add(path+".addresses"+index(i), "want an address with prefix length like 192.0.2.10/24, got %q", s)
		}
	}
	if a.Gateway4 != "" && !isIPv4(a.Gateway4) {
		ch.add(path+".gateway4", "want an IPv4 address, got %q", a.Gateway4)
	}
	if a.Gateway6 != "" && !isIPv6(a.Gateway6) {
		ch.add(path+".gateway6", "want an IPv6 address, got %q", a.Gateway6)
	}
	for i, r := range a.Routes {
		ch.route(path+".routes"+index(i), r)
	}
	for i, s := range a.Nameservers.Addresses {
		if _, err := netip.ParseAddr(s); err != nil {
			ch.add(path+".nameservers.addresses"+index(i), "want an IP address, got %q", s)
		}
	}
	for i, s := range a.Nameservers.Search {
		if s == "" || len(s) > 253 || strings.ContainsFunc(s, isSpace) {
			ch.add(path+".nameservers.search"+index(i), "want a domain name, got %q", s)
		}
	}
	if a.MTU != 0 && (a.MTU < minMTU || a.MTU > maxMTU) {
		ch.add(path+".mtu", "want an MTU in %d..%d, got %d", minMTU, maxMTU, a.MTU)
	}
}

func (ch *checker) route(path string, r Route) {
	var via netip.Addr
	if r.Via != "" {
		var err error
		if via, err = netip.ParseAddr(r.Via); err != nil {
			ch.add(path+".via", "want an IP address, got %q", r.Via)
			return
		}
	}
	switch {
	case r.To == "":
		ch.add(path, "want to, got none")
	case r.To == "default":
		if r.Via == "" {
			ch.add(path, "want via with to: default, got none")
		}
	default:
		to, err := routePrefix(r.To)
		if err != nil {
			ch.add(path+".to", "want default, a prefix like 10.0.0.0/8 or an address, got %q", r.To)
			return
		}
		if to != to.Masked() {
			ch.add(path+".to", "want a prefix with no host bits like %s, got %q", to.Masked(), r.To)
		}
		if r.Via != "" && to.Addr().Is4() != via.Unmap().Is4() {
			ch.add(path+".via", "want an address of the same family as to %s, got %q", r.To, r.Via)
		}
	}
}

// bond checks a bond and records its members so that no ethernet is in two.
func (ch *checker) bond(b Bond, owner map[string]string, ethernets map[string]Ethernet, members map[string]string) {
	path := "bonds." + b.ID
	ch.unique(path, b.ID, "bonds", owner)
	ch.virtualName(path, b.ID, "bond")
	if len(b.Interfaces) == 0 {
		ch.add(path+".interfaces", "want at least one ethernet ID, got none")
	}
	for i, m := range b.Interfaces {
		ipath := path + ".interfaces" + index(i)
		e, ok := ethernets[m]
		switch other, taken := members[m]; {
		case !ok:
			ch.add(ipath, "want the ID of an ethernet defined in this file, got %q", m)
		case taken:
			ch.add(ipath, "want an ethernet not already in bonds.%s, got %q", other, m)
		default:
			members[m] = b.ID
			if keys := addressingKeys(e.Addressing); len(keys) > 0 {
				ch.add("ethernets."+m, "want no addressing on a member of bonds.%s, got %s", b.ID, strings.Join(keys, ", "))
			}
		}
	}
	bp, ppath := b.Parameters, path+".parameters"
	ch.oneOf(ppath+".mode", bp.Mode, bondModes)
	ch.oneOf(ppath+".lacp-rate", bp.LACPRate, bondLACPRates)
	ch.oneOf(ppath+".transmit-hash-policy", bp.TransmitHashPolicy, bondTransmitHashPolicy)
	if bp.Primary != "" {
		switch {
		case !slices.Contains(b.Interfaces, bp.Primary):
			ch.add(ppath+".primary", "want one of the bond's interfaces (%s), got %q", strings.Join(b.Interfaces, ", "), bp.Primary)
		case !slices.Contains(bondPrimaryModes, bp.Mode):
			ch.add(ppath+".primary", "want mode %s with primary, got mode %s", strings.Join(bondPrimaryModes, ", "), quoteOrNone(bp.Mode))
		}
	}
	ch.addressing(path, b.Addressing)
}

func (ch *checker) oneOf(path, value string, allowed []string) {
	if value != "" && !slices.Contains(allowed, value) {
		ch.add(path, "want one of %s, got %q", strings.Join(allowed, ", "), value)
	}
}

// addressingKeys names the layer-3 keys a is using; mtu and optional are
// link settings a bond member may have.
func addressingKeys(a Addressing) []string {
	var keys []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"dhcp4", a.DHCP4}, {"dhcp6", a.DHCP6}, {"addresses", len(a.Addresses) > 0},
		{"gateway4", a.Gateway4 != ""}, {"gateway6", a.Gateway6 != ""}, {"routes", len(a.Routes) > 0},
		{"nameservers", len(a.Nameservers.Addresses)+len(a.Nameservers.Search) > 0},
	} {
		if k.set {
			keys = append(keys, k.name)
		}
	}
	return keys
}

// validID: an ID becomes part of a file name.
func validID(s string) bool {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validIfname is a Linux interface name (at most IFNAMSIZ-1 bytes, and not
// all digits, which systemd refuses) drawn from the ID characters.
func validIfname(s string) bool {
	if !validID(s) || len(s) > 15 {
		return false
	}
	return strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

// routePrefix parses a route destination: a prefix, or an address as a host
// route.
func routePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && !a.Is4In6()
}

// isSpace is a blank or a control character (a NUL, a line break, an
// escape), none of which has a place in a systemd-networkd value.
func isSpace(r rune) bool {
	return r == ' ' || unicode.IsControl(r)
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return fmt.Sprintf("%q", s)
}
