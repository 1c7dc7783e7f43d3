package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/netconfig"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// resolvConfHeader starts the /etc/resolv.conf firstboot writes: a file
// that does not start with it is not firstboot's and is left alone.
const resolvConfHeader = "# Written by firstboot from the node's network config: this base OS runs no systemd-resolved.\n"

// maxResolvConfNameservers is how many name servers resolvers use
// (glibc's MAXNS); kubelet also warns past it.
const maxResolvConfNameservers = 3

// resolvConf gives the node a resolver, every boot (/etc is the image's,
// on a RAM overlay). With systemd-resolved, which the builder links
// /etc/resolv.conf to when the base runs it (builder/baseos), there is
// nothing to write: systemd-networkd hands it the name servers of DHCP
// leases and of the network config (DNS=), and it lists them in
// /run/systemd/resolve/resolv.conf, the file K3s gives kubelet and CoreDNS.
// On a base without it, networkd's name servers reach no file, so
// firstboot writes /etc/resolv.conf from the network config's name
// servers: the network-config's nameservers, or cluster.network.dns for a
// node with a static inventory address. Name servers a DHCP lease offers
// cannot be used that way; a warning says so when the config names none.
func resolvConf(_ context.Context, env *Env) error {
	path := env.Path("/etc/resolv.conf")
	if target, err := os.Readlink(path); err == nil && strings.Contains(target, "run/systemd/resolve/") {
		env.Printf("resolv-conf: systemd-resolved (/etc/resolv.conf -> %s) takes the name servers of DHCP and of the network config from systemd-networkd", target)
		return nil
	}
	ours, err := firstbootResolvConf(path)
	if err != nil {
		return err
	}
	if !ours {
		env.Printf("resolv-conf: /etc/resolv.conf is the image's; left as it is")
		return nil
	}
	servers, search, source, err := configuredDNS(env)
	if err != nil {
		return err
	}
	if len(servers) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		env.Printf("resolv-conf: warning: no systemd-resolved in this base OS and no name server in the network config: the node has no resolver (a DHCP lease's name servers are used only through systemd-resolved)")
		return nil
	}
	if len(servers) > maxResolvConfNameservers {
		env.Printf("resolv-conf: warning: %d name servers from %s; resolvers use the first %d", len(servers), source, maxResolvConfNameservers)
		servers = servers[:maxResolvConfNameservers]
	}
	var b strings.Builder
	b.WriteString(resolvConfHeader)
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if err := writeFileAtomic(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	env.Printf("resolv-conf: /etc/resolv.conf: name servers %s from %s (no systemd-resolved in this base OS)", strings.Join(servers, " "), source)
	return nil
}

// firstbootResolvConf reports whether path is absent or a file firstboot
// wrote: a regular file starting with resolvConfHeader.
func firstbootResolvConf(path string) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("resolv.conf: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, nil
	}
	data, err := smallfile.Read(path, maxResolvConf)
	if err != nil {
		return false, nil // not one firstboot wrote: those are small regular files
	}
	return strings.HasPrefix(string(data), resolvConfHeader), nil
}

// maxResolvConf bounds the resolv.conf read: firstboot's are a few lines.
const maxResolvConf = 64 << 10

// domainName is a search domain written into resolv.conf: letters,
// digits, '-' and '_' labels joined by dots, nothing a line could break on.
var domainName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$`)

// configuredDNS is the name servers and search domains of the network
// config the network step applied, and where they came from.
func configuredDNS(env *Env) (servers, search []string, source string, err error) {
	doc := env.network
	if doc == nil {
		if doc, err = inventoryNetwork(env); err != nil {
			return nil, nil, "", err
		}
	}
	if doc == nil || doc.Config.Disabled {
		return nil, nil, "", nil
	}
	var all []netconfig.Addressing
	for _, e := range doc.Config.Ethernets {
		all = append(all, e.Addressing)
	}
	for _, b := range doc.Config.Bonds {
		all = append(all, b.Addressing)
	}
	for _, v := range doc.Config.VLANs {
		all = append(all, v.Addressing)
	}
	seen := map[string]bool{}
	for _, a := range all {
		for _, s := range a.Nameservers.Addresses {
			addr, err := netip.ParseAddr(s)
			if err != nil || seen[addr.String()] {
				continue
			}
			seen[addr.String()] = true
			servers = append(servers, addr.String())
		}
		for _, d := range a.Nameservers.Search {
			if domainName.MatchString(d) && len(d) <= 253 && !seen[d] {
				seen[d] = true
				search = append(search, d)
			}
		}
	}
	return servers, search, doc.Source, nil
}
