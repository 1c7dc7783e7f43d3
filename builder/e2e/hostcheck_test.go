package e2e

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/ml-appliance/appliance/internal/dnstest"
	"github.com/ml-appliance/appliance/internal/netns"
)

// The site network of TestNodeCheckWithSiteDNS, in a namespace of its own:
// the bridge's address (siteDHCPIP) runs the site's DHCP server, is its
// router, and runs its DNS server, which alone knows siteServerName.
const (
	siteTap        = "sitetap0"
	siteFirstIP    = "10.213.9.100"
	siteServerName = "k3s-api.site.test"
	siteServerIP   = "10.213.9.7"
)

// TestNodeCheckWithSiteDNS builds an agent image from the real base OS
// (with systemd-resolved and AppArmor) and Debian's cloud kernel, with the
// K3s stand-in and cluster.server given by a name only the test's DNS
// server knows, and boots it on a bridge in a network namespace where the
// test runs the site's DHCP server (handing out the DNS server) and DNS
// server. From the console: the DHCP lease's name server reached
// systemd-resolved through systemd-networkd, firstboot's host check passed
// with AppArmor enabled and both resolvers answering that name, K3s (the
// stand-in) was started after it, and `firstboot status` shows the check.
// Tools nobody here wrote confirm it in the booted node: aa-enabled, and
// getent resolving the name through glibc and systemd-resolved's stub.
//
// The cloud kernel has every option and module the check wants (its
// config, checked in firstboot/hostcheck TestDebianKernels); the builder
// keeps the .deb's boot/config-<version>, so the node checks every option
// from it.
func TestNodeCheckWithSiteDNS(t *testing.T) {
	needNetnsVMs(t)
	t.Parallel()
	work := t.TempDir()
	standIn := withStandInK3s(t, work)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		standIn(doc)
		doc["cluster"].(map[string]any)["server"] = "https://" + siteServerName + ":6443"
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	checkApplianceEtc(t, filepath.Join(out, "single-node.squashfs"))

	ns := bridgeNetns(t, siteDHCPIP+"/24", siteTap)
	dns := startSiteNetwork(t, ns)
	seed := seedDisk(t, t.TempDir(), "instance-id: host-check\n", `#cloud-config
runcmd:
  - [aa-enabled]
  - [getent, hosts, `+siteServerName+`]
  - "grep ^nameserver /run/systemd/resolve/resolv.conf"
  - "firstboot status | grep '^host check'"
  - "firstboot status --output json | tr -d ' \\n' | grep -o '\"hostCheck\":{\"checked\":\"[^\"]*\",\"kernel\":\"[^\"]*\"'"
  - "systemctl show -p Id -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic apparmor.service systemd-resolved.service | tr -s '\\n' ' '"
`)
	disk := filepath.Join(t.TempDir(), "disk.raw")
	run(t, "cp", "--sparse=always", filepath.Join(out, "single-node.raw"), disk)
	opts := bootOptions(t, disk, "52:54:00:12:34:56")
	opts.Disks = append(opts.Disks, seed)
	opts.Extra = []string{
		"-netdev", "tap,id=n0,ifname=" + siteTap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56",
	}
	start := time.Now()
	vm := startInNetns(t, ns, opts)

	line := `firstboot: resolv-conf: systemd-resolved \(/etc/resolv\.conf -> \.\./run/systemd/resolve/stub-resolv\.conf\)`
	expect(t, vm, consoleLine+line, 0, bootTimeout)
	kernel, _ := expect(t, vm, consoleLine+`firstboot: host-check: ok kernel 6\.1\.\S+-cloud-amd64: (\d+) of (\d+) options and modules present \(config /boot/config-6\.1\.\S+-cloud-amd64\)$`, 0, bootTimeout)
	if m := regexp.MustCompile(`: (\d+) of (\d+) options`).FindStringSubmatch(kernel); m == nil || m[1] != m[2] {
		t.Errorf("kernel requirements not all met: %q", kernel)
	}
	t.Log(strings.TrimSpace(kernel))
	for _, want := range []string{
		`firstboot: host-check: ok cgroup v2: cgroup2 on /sys/fs/cgroup with controllers cpu cpuset memory pids$`,
		`firstboot: host-check: ok AppArmor: enabled in the kernel; /sbin/apparmor_parser present`,
		`firstboot: host-check: ok iptables: iptables v1\.8\.\d+ \(nf_tables\)$`,
		`firstboot: host-check: ok resolver: ` + regexp.QuoteMeta(siteServerName+" is "+siteServerIP+" (asked 127.0.0.53, from /etc/resolv.conf)") + `$`,
		`firstboot: host-check: ok pod DNS: ` + regexp.QuoteMeta(siteServerName+" is "+siteServerIP+" (asked "+siteDHCPIP+", from /run/systemd/resolve/resolv.conf, the file K3s gives kubelet and CoreDNS)") + `$`,
	} {
		expect(t, vm, consoleLine+want, 0, bootTimeout)
	}
	summary, passed := expect(t, vm, consoleLine+`firstboot: host-check: passed: \d+ requirements checked, \d+ warnings?$`, 0, bootTimeout)
	t.Log(strings.TrimSpace(summary))
	// K3s is queued after the check, never before it.
	expect(t, vm, consoleLine+`firstboot: k3s-start: k3s-agent\.service queued`, passed, bootTimeout)
	agent, _ := expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): agent started with `, passed, bootTimeout)
	if !strings.Contains(agent, "server=https://"+siteServerName+":6443") {
		t.Errorf("stand-in K3s agent config: %q", agent)
	}
	for _, want := range []string{
		`firstboot: runcmd: runcmd\[0\] aa-enabled: ok \(Yes\)$`,
		`firstboot: runcmd: runcmd\[1\] getent hosts ` + regexp.QuoteMeta(siteServerName) + `: ok \(` + regexp.QuoteMeta(siteServerIP) + `\s+` + regexp.QuoteMeta(siteServerName) + `\)$`,
		`firstboot: runcmd: runcmd\[2\] .*: ok \(nameserver ` + regexp.QuoteMeta(siteDHCPIP) + `\)$`,
		`firstboot: runcmd: runcmd\[3\] .*: ok \(host check \(\S+, kernel 6\.1\.\S+-cloud-amd64\): passed: \d+ requirements checked, \d+ warnings?\)$`,
		`firstboot: runcmd: runcmd\[4\] .*: ok \("hostCheck":\{"checked":"[^"]+","kernel":"6\.1\.\S+-cloud-amd64"\)$`,
	} {
		expect(t, vm, consoleLine+want, 0, bootTimeout)
	}
	t.Logf("host check passed, K3s started and runcmd ran %.1fs after QEMU started", time.Since(start).Seconds())
	// What loading AppArmor's profiles and starting systemd-resolved took
	// this boot (µs, under TCG).
	blame, _ := expect(t, vm, consoleLine+`firstboot: runcmd: (warning: )?runcmd\[5\] `, 0, bootTimeout)
	t.Log(strings.TrimSpace(blame))
	for _, l := range vm.Lines() {
		if strings.Contains(l, "host-check: warning") {
			t.Logf("console: %s", l)
		}
	}
	if n := dns.Asked(siteServerName + "."); n == 0 {
		t.Errorf("the site's DNS server was never asked for %s", siteServerName)
	}
	vm.Kill()
}

// startSiteNetwork serves the site's DHCP (the site DHCP double, handing
// out the gateway as router and as name server) and DNS (siteServerName
// only) on the bridge of ns until the test ends.
//
// Not the boot server's full DHCP mode: its leases carry no server
// identifier (option 54) for a client that is not netbooting
// (internal/bootserver responder.lease adds it only with the boot file),
// and systemd-networkd's DHCP client ignores such offers: a node never got
// an address from it here.
func startSiteNetwork(t *testing.T, ns string) *dnstest.Server {
	t.Helper()
	gw := net.ParseIP(siteDHCPIP)
	startSiteDHCP(t, ns, pxeBridge, gw, net.ParseIP(siteFirstIP),
		dhcpv4.WithOption(dhcpv4.OptRouter(gw)), dhcpv4.WithOption(dhcpv4.OptDNS(gw)))
	var dns *dnstest.Server
	err := netns.Do(ns, func() error {
		// The socket is bound here, in ns; the goroutine serving it need not be.
		conn, err := net.ListenPacket("udp4", net.JoinHostPort(siteDHCPIP, "53"))
		if err != nil {
			return err
		}
		dns = dnstest.Serve(conn, map[string]netip.Addr{siteServerName + ".": netip.MustParseAddr(siteServerIP)})
		return nil
	})
	if err != nil {
		t.Fatalf("site DNS: %v", err)
	}
	t.Cleanup(func() { dns.Close() })
	return dns
}

// checkApplianceEtc reads the OS image's /etc with unsquashfs: none of the
// build machine's files (its resolv.conf named 10.255.255.53, its
// hostname was "vm"), the appliance's loopback-only hosts, resolv.conf
// linked to systemd-resolved's stub, and the AppArmor parser containerd
// looks for.
func checkApplianceEtc(t *testing.T, image string) {
	t.Helper()
	listing := run(t, "unsquashfs", "-lls", "-d", "", image, "etc/resolv.conf", "etc/hostname", "etc/hosts",
		"etc/.resolv.conf.systemd-resolved.bak", "usr/sbin/apparmor_parser", "sbin")
	for _, want := range []string{" /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf\n", " /etc/hosts\n",
		" /usr/sbin/apparmor_parser\n", " /sbin -> usr/sbin\n"} {
		if !strings.Contains(listing, want) {
			t.Errorf("OS image lacks %q:\n%s", strings.TrimSpace(want), listing)
		}
	}
	for _, bad := range []string{"/etc/hostname", "/etc/.resolv.conf.systemd-resolved.bak"} {
		if strings.Contains(listing, " "+bad+"\n") {
			t.Errorf("OS image carries the build machine's %s", bad)
		}
	}
	dir := filepath.Join(t.TempDir(), "x")
	run(t, "unsquashfs", "-q", "-d", dir, image, "etc/hosts")
	hosts, err := os.ReadFile(filepath.Join(dir, "etc/hosts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(hosts)), "\n") {
		if addr := strings.Fields(line)[0]; addr != "127.0.0.1" && addr != "::1" && !strings.HasPrefix(addr, "ff02::") {
			t.Errorf("/etc/hosts names a non-loopback address: %q", line)
		}
	}
}
