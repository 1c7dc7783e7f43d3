package hostcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/internal/smallfile"
	"golang.org/x/net/dns/dnsmessage"
)

// Two resolvers matter to a K3s node, and both are checked (soft: a DNS
// outage must not keep a node from its cluster for a whole boot):
//
//   - "resolver": /etc/resolv.conf, what K3s itself (a Go program) and the
//     node's tools use; with systemd-resolved, its stub 127.0.0.53. An
//     agent dials its server by name through it.
//   - "pod DNS": the file K3s gives kubelet, so every pod with the default
//     DNS policy, CoreDNS's upstream included, as K3s picks it (k3s
//     pkg/agent/config locateOrGenerateResolvConf and isValidResolvConf):
//     /etc/resolv.conf, else /run/systemd/resolve/resolv.conf (the upstream
//     servers systemd-resolved learnt from networkd), whichever first lists
//     name servers that are all global unicast addresses; with neither,
//     K3s writes its own with 8.8.8.8, useless in an air gap.
var k3sResolvConfs = []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}

// maxNameservers is how many name servers a resolver uses (glibc's MAXNS).
const maxNameservers = 3

// dnsPort is where name servers listen: resolv.conf has no port.
const dnsPort = 53

func checkResolvers(ctx context.Context, o Options) []Result {
	return []Result{checkHostResolver(ctx, o), checkPodDNS(ctx, o)}
}

func checkHostResolver(ctx context.Context, o Options) Result {
	r := Result{Name: "resolver"}
	const file = "/etc/resolv.conf"
	servers, _, err := readResolvConf(o.path(file))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Detail = "no " + file + ": neither K3s nor the node's tools can resolve names"
	case err != nil:
		r.Detail = fmt.Sprintf("%v: neither K3s nor the node's tools can resolve names", err)
	case len(servers) == 0:
		r.Detail = file + " lists no name server: neither K3s nor the node's tools can resolve names"
	default:
		r.OK, r.Detail = lookup(ctx, o, servers, file)
	}
	return r
}

func checkPodDNS(ctx context.Context, o Options) Result {
	r := Result{Name: "pod DNS"}
	file, servers := k3sResolvConf(o)
	for waited := time.Duration(0); file == "" && waited < o.DNSWait; waited += time.Second {
		if o.Sleep(ctx, time.Second) != nil {
			break
		}
		file, servers = k3sResolvConf(o)
	}
	if file == "" {
		r.Detail = fmt.Sprintf("neither %s lists only global unicast name servers (waited %s): K3s will give kubelet and CoreDNS a resolv.conf of its own with nameserver 8.8.8.8, which an air-gapped site cannot reach",
			strings.Join(k3sResolvConfs, " nor "), o.DNSWait)
		return r
	}
	r.OK, r.Detail = lookup(ctx, o, servers, file+", the file K3s gives kubelet and CoreDNS")
	return r
}

// k3sResolvConf returns the file K3s would pick and its name servers, ""
// when it would pick none.
func k3sResolvConf(o Options) (string, []netip.Addr) {
	for _, f := range k3sResolvConfs {
		if servers, allGlobal, err := readResolvConf(o.path(f)); err == nil && allGlobal && len(servers) > 0 {
			return f, servers
		}
	}
	return "", nil
}

// readResolvConf returns the name servers of a resolv.conf and whether
// K3s would take the file: every nameserver line, each read as K3s reads
// it (`^nameserver\s+([^\s]*)`), holds a global unicast address.
func readResolvConf(file string) ([]netip.Addr, bool, error) {
	data, err := smallfile.Read(file, maxSmallFile)
	if err != nil {
		return nil, false, err
	}
	var servers []netip.Addr
	allGlobal := true
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "nameserver")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		field, _, _ := strings.Cut(strings.TrimLeft(rest, " \t"), " ")
		a, err := netip.ParseAddr(strings.TrimSpace(field))
		if err != nil {
			allGlobal = false
			continue
		}
		allGlobal = allGlobal && a.IsGlobalUnicast()
		servers = append(servers, a)
	}
	return servers, allGlobal, nil
}

// lookup asks servers in turn, the first to answer deciding: for
// Options.ServerName, its address; without one, any reply at all.
func lookup(ctx context.Context, o Options, servers []netip.Addr, from string) (bool, string) {
	name := o.ServerName
	if name == "" {
		name = rootQuestion
	}
	var failures []string
	for _, s := range servers[:min(len(servers), maxNameservers)] {
		a, err := ask(ctx, o, netip.AddrPortFrom(s, dnsPort), name)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		switch {
		case name == rootQuestion:
			return true, fmt.Sprintf("%s replies (%s to a question for the root zone; from %s)", s, rcodeName(a.rcode), from)
		case len(a.addrs) > 0:
			addrs := make([]string, len(a.addrs))
			for i, x := range a.addrs {
				addrs[i] = x.String()
			}
			return true, fmt.Sprintf("%s is %s (asked %s, from %s)", name, strings.Join(addrs, " "), s, from)
		default:
			return false, fmt.Sprintf("%s does not resolve: %s answered %s with no IPv4 address (from %s); this node reaches its cluster's server by that name",
				name, s, rcodeName(a.rcode), from)
		}
	}
	return false, fmt.Sprintf("no name server answered (from %s): %s", from, strings.Join(failures, "; "))
}

// rcodeName is a response code as dig prints it.
func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return c.String()
}
