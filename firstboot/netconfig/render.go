package netconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// FilePrefix starts the name of every file Render makes. Apply owns the
// files in the network directory that carry it. 10 sorts before the base
// OS's 80-dhcp.network, and systemd-networkd applies the first .network file
// in lexical order that matches a link.
const FilePrefix = "10-cloud-config-"

// File is one systemd-networkd or udev file: a base name and its content.
type File struct {
	Name    string
	Content []byte
}

// Render turns cfg into .network, .netdev and .link files, sorted by name.
// The output depends only on cfg. A disabled Config renders no files. A
// Config Parse did not produce (FromInventory, or built by hand) is checked
// as Parse checks it; any problem is an error and no file is rendered.
func Render(cfg Config) ([]File, error) {
	if cfg.Disabled {
		return nil, nil
	}
	if problems := cfg.validate(); len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, pr := range problems {
			errs[i] = fmt.Errorf("render network config: %s: %s", pr.path, pr.msg)
		}
		return nil, errors.Join(errs...)
	}
	// What each device's .network says about devices stacked on it.
	stacked := map[string][]string{}
	for _, b := range cfg.Bonds {
		for _, m := range b.Interfaces {
			stacked[m] = append(stacked[m], "Bond="+b.ID)
			if m == b.Parameters.Primary {
				stacked[m] = append(stacked[m], "PrimarySlave=yes")
			}
		}
	}
	for _, v := range cfg.VLANs {
		stacked[v.Link] = append(stacked[v.Link], "VLAN="+v.ID)
	}

	var files []File
	for _, e := range cfg.Ethernets {
		source := "ethernets." + e.ID
		files = append(files, networkFile(source, e.ID, ethernetMatch(e), e.Addressing, stacked[e.ID]))
		if e.SetName != "" {
			files = append(files, linkFile(e))
		}
	}
	for _, b := range cfg.Bonds {
		source := "bonds." + b.ID
		files = append(files, netdevFile(source, b.ID, "bond", bondSection(b.Parameters)))
		files = append(files, networkFile(source, b.ID, []string{"Name=" + b.ID}, b.Addressing, stacked[b.ID]))
	}
	for _, v := range cfg.VLANs {
		source := "vlans." + v.ID
		files = append(files, netdevFile(source, v.ID, "vlan", "[VLAN]\nId="+strconv.Itoa(v.VLANID)+"\n"))
		files = append(files, networkFile(source, v.ID, []string{"Name=" + v.ID}, v.Addressing, stacked[v.ID]))
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

func header(source string) string {
	return "# Written by firstboot from network config " + source + ".\n" +
		"# firstboot rewrites or removes every " + FilePrefix + "* file on each run.\n"
}

// ethernetMatch is the [Match] of an ethernet's .network (see the package
// documentation for why PermanentMACAddress= and Type=ether).
func ethernetMatch(e Ethernet) []string {
	if e.Match == nil {
		return []string{"Name=" + e.ID}
	}
	var lines []string
	if e.Match.MACAddress != "" {
		lines = append(lines, "PermanentMACAddress="+normalMAC(e.Match.MACAddress))
	}
	switch {
	case e.Match.Name != "" && e.SetName != "" && e.SetName != e.Match.Name:
		// Before the next boot the device still has its old name.
		lines = append(lines, "Name="+e.SetName+" "+e.Match.Name)
	case e.Match.Name != "":
		lines = append(lines, "Name="+e.Match.Name)
	case e.SetName != "" && e.Match.MACAddress == "":
		lines = append(lines, "Name="+e.SetName)
	}
	if e.Match.Driver != "" {
		lines = append(lines, "Driver="+e.Match.Driver)
	}
	if e.Match.Name != "" {
		lines = append(lines, "Type=ether")
	}
	return lines
}

func networkFile(source, id string, match []string, a Addressing, stacked []string) File {
	var b strings.Builder
	b.WriteString(header(source))
	section(&b, "Match", match)
	var link []string
	if a.MTU != 0 {
		link = append(link, "MTUBytes="+strconv.Itoa(a.MTU))
	}
	if a.Optional {
		link = append(link, "RequiredForOnline=no")
	}
	section(&b, "Link", link)
	section(&b, "Network", append(networkLines(a), stacked...))
	for _, r := range a.Routes {
		section(&b, "Route", routeLines(r))
	}
	return File{Name: FilePrefix + id + ".network", Content: []byte(b.String())}
}

func networkLines(a Addressing) []string {
	var lines []string
	switch {
	case a.DHCP4 && a.DHCP6:
		lines = append(lines, "DHCP=yes")
	case a.DHCP4:
		lines = append(lines, "DHCP=ipv4")
	case a.DHCP6:
		lines = append(lines, "DHCP=ipv6")
	}
	for _, s := range a.Addresses {
		lines = append(lines, "Address="+netip.MustParsePrefix(s).String())
	}
	for _, gw := range []string{a.Gateway4, a.Gateway6} {
		if gw != "" {
			lines = append(lines, "Gateway="+netip.MustParseAddr(gw).String())
		}
	}
	for _, s := range a.Nameservers.Addresses {
		lines = append(lines, "DNS="+netip.MustParseAddr(s).String())
	}
	if len(a.Nameservers.Search) > 0 {
		lines = append(lines, "Domains="+strings.Join(a.Nameservers.Search, " "))
	}
	return lines
}

func routeLines(r Route) []string {
	var dest string
	switch {
	case r.To != "default":
		p, _ := routePrefix(r.To)
		dest = p.String()
	case netip.MustParseAddr(r.Via).Unmap().Is4():
		dest = "0.0.0.0/0"
	default:
		dest = "::/0"
	}
	lines := []string{"Destination=" + dest}
	if r.Via != "" {
		lines = append(lines, "Gateway="+netip.MustParseAddr(r.Via).String())
	}
	if r.Metric != nil {
		lines = append(lines, "Metric="+strconv.FormatUint(uint64(*r.Metric), 10))
	}
	if r.OnLink {
		lines = append(lines, "GatewayOnLink=yes")
	}
	return lines
}

func netdevFile(source, id, kind, body string) File {
	var b strings.Builder
	b.WriteString(header(source))
	section(&b, "NetDev", []string{"Name=" + id, "Kind=" + kind})
	if body != "" {
		b.WriteString("\n" + body)
	}
	return File{Name: FilePrefix + id + ".netdev", Content: []byte(b.String())}
}

func bondSection(bp BondParameters) string {
	var lines []string
	if bp.Mode != "" {
		lines = append(lines, "Mode="+bp.Mode)
	}
	if bp.TransmitHashPolicy != "" {
		lines = append(lines, "TransmitHashPolicy="+bp.TransmitHashPolicy)
	}
	if bp.LACPRate != "" {
		lines = append(lines, "LACPTransmitRate="+bp.LACPRate)
	}
	if bp.MIIMonitorInterval != 0 {
		lines = append(lines, "MIIMonitorSec="+strconv.FormatInt(bp.MIIMonitorInterval.Milliseconds(), 10)+"ms")
	}
	var b strings.Builder
	section(&b, "Bond", lines)
	return strings.TrimPrefix(b.String(), "\n")
}

// linkFile renames a device with set-name. udev applies a .link file only
// on a device's add event, so the new name takes effect on the next boot.
// udev matches OriginalName= against the kernel's name (eth0), before any
// rename, so a match.name of a predictable name (ens3) does not match here.
func linkFile(e Ethernet) File {
	var b strings.Builder
	b.WriteString(header("ethernets." + e.ID + ".set-name"))
	b.WriteString("# udev applies it when the device is added: the name takes effect on the next boot.\n")
	var match []string
	if e.Match.MACAddress != "" {
		match = append(match, "PermanentMACAddress="+normalMAC(e.Match.MACAddress))
	}
	if e.Match.Name != "" {
		match = append(match, "OriginalName="+e.Match.Name)
	}
	if e.Match.Driver != "" {
		match = append(match, "Driver="+e.Match.Driver)
	}
	section(&b, "Match", match)
	section(&b, "Link", []string{"Name=" + e.SetName})
	return File{Name: FilePrefix + e.ID + ".link", Content: []byte(b.String())}
}

// section writes "[name]" and its lines, after a blank line; nothing when
// there are no lines.
func section(b *strings.Builder, name string, lines []string) {
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n[" + name + "]\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
}

func normalMAC(s string) string {
	hw, _ := net.ParseMAC(s)
	return hw.String()
}
