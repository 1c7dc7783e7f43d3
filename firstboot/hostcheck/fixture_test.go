package hostcheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/dnstest"
)

const testRelease = "6.1.0-57-cloud-amd64"

// testModules are the modules the fake kernel has as loadable (in
// modules.dep), as Debian's cloud kernel has them.
var testModules = []string{
	"veth", "bridge", "br_netfilter", "iptable_filter", "xt_MASQUERADE", "ipt_REJECT", "xt_addrtype",
	"xt_conntrack", "xt_ipvs", "xt_comment", "xt_multiport", "xt_statistic", "iptable_nat", "nf_nat",
	"nf_conntrack", "vxlan", "overlay", "nf_tables", "nft_compat", "nft_nat", "nft_masq", "nft_ct",
	"ip_set", "ip_vs",
}

// liveRoot is a fake root of a booted node that meets every requirement,
// as the appliance's base OS on Debian's cloud kernel shows it: no kernel
// config file, the modules in modules.dep (vxlan loaded already),
// cgroup v2, AppArmor on with its parser, modprobe, no swap, and
// systemd-resolved's stub as /etc/resolv.conf with 10.213.9.1 upstream.
func liveRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"proc/sys/kernel/osrelease":                       testRelease + "\n",
		"proc/sys/kernel/seccomp/actions_avail":           "kill_process kill_thread trap errno user_notif trace log allow\n",
		"proc/sys/kernel/keys/root_maxkeys":               "1000000\n",
		"proc/sys/fs/mqueue/msg_max":                      "10\n",
		"proc/modules":                                    "vxlan 94208 0 - Live 0x0000000000000000\nip6_udp_tunnel 16384 1 vxlan, Live 0x0000000000000000\n",
		"proc/swaps":                                      "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
		"proc/cmdline":                                    "appliance.os=PARTLABEL=OS-A console=ttyS0,115200\n",
		"proc/self/mountinfo":                             "22 1 0:21 / / ro - overlay overlay rw\n35 22 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
		"sys/fs/cgroup/cgroup.controllers":                "cpuset cpu io memory hugetlb pids rdma misc\n",
		"sys/module/apparmor/parameters/enabled":          "Y\n",
		"sys/kernel/security/apparmor/profiles":           "",
		"lib/modules/" + testRelease + "/modules.builtin": "kernel/fs/ext4/ext4.ko\nkernel/arch/x86/events/amd/amd-uncore.ko\n",
		"run/systemd/resolve/stub-resolv.conf":            "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n",
		"run/systemd/resolve/resolv.conf":                 "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).\nnameserver 10.213.9.1\nsearch .\n",
		"lib/modules/" + testRelease + "/modules.dep":     modulesDep(testModules),
		"sbin/apparmor_parser":                            "#!/bin/true\n",
		"usr/sbin/modprobe":                               "#!/bin/true\n",
	}
	for p, c := range files {
		writeFile(t, root, p, c)
	}
	for _, ns := range []string{"uts", "net", "pid", "ipc", "cgroup", "user", "mnt"} {
		writeFile(t, root, "proc/self/ns/"+ns, "")
	}
	for _, p := range []string{"sbin/apparmor_parser", "usr/sbin/modprobe"} {
		if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink(t, root, "etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf")
	return root
}

// modulesDep lists modules as modules.dep does, in a kernel/ tree.
func modulesDep(modules []string) string {
	var b strings.Builder
	for _, m := range modules {
		fmt.Fprintf(&b, "kernel/net/%s.ko:\n", m)
	}
	return b.String()
}

func writeFile(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, root, p, target string) {
	t.Helper()
	full := filepath.Join(root, p)
	os.Remove(full)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, root, p string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
		t.Fatal(err)
	}
}

// iptablesDouble is a test double of Runner answering `iptables
// --version` with out, or failing with err; every other tool fails.
type iptablesDouble struct {
	out string
	err error
}

func (r iptablesDouble) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	if name+" "+strings.Join(args, " ") != "iptables --version" {
		return nil, fmt.Errorf("%s: unexpected command", name)
	}
	return []byte(r.out), r.err
}

// missingTool is the error os/exec gives for a tool not on PATH.
func missingTool(name string) error {
	return &exec.Error{Name: name, Err: exec.ErrNotFound}
}

// siteDNS is the test's name server on 127.0.0.1: it knows only the site's
// K3s API name. dial sends every question there, whatever server the
// check asks, and records which servers those were.
type siteDNS struct {
	srv   *dnstest.Server
	mu    sync.Mutex
	asked []string
}

const (
	testServerName = "k3s-api.site.test"
	testServerAddr = "10.213.9.7"
)

func startSiteDNS(t *testing.T) *siteDNS {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &siteDNS{srv: dnstest.Serve(conn, map[string]netip.Addr{testServerName + ".": netip.MustParseAddr(testServerAddr)})}
	t.Cleanup(func() { d.srv.Close() })
	return d
}

func (d *siteDNS) dial(ctx context.Context, server netip.AddrPort) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, server.String())
	d.mu.Unlock()
	var dialer net.Dialer
	return dialer.DialContext(ctx, "udp", d.srv.Addr().String())
}

func (d *siteDNS) servers() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := append([]string(nil), d.asked...)
	sort.Strings(out)
	return out
}

// options checks root with the site DNS, iptables 1.8.9 on nf_tables, and
// a sleep that only adds up the time it was asked to wait.
func options(root string, dns *siteDNS, slept *time.Duration) Options {
	return Options{
		Root: root, Runner: iptablesDouble{out: "iptables v1.8.9 (nf_tables)\n"}, ServerName: testServerName,
		Dial: dns.dial, DNSTimeout: 2 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { *slept += d; return nil },
		Now:   func() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) },
	}
}
