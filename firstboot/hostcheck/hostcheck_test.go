package hostcheck

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func run(t *testing.T, o Options) Report {
	t.Helper()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestCompleteNodePasses checks a node that has everything, the way the
// appliance on Debian's cloud kernel has it: no kernel config file, so
// modules and /proc are the evidence.
func TestCompleteNodePasses(t *testing.T) {
	root := liveRoot(t)
	dns := startSiteDNS(t)
	var slept time.Duration
	rep := run(t, options(root, dns, &slept))
	if !rep.Passed() || len(rep.Warnings()) != 0 {
		t.Fatalf("report:\n%s", strings.Join(rep.Lines(), "\n"))
	}
	want := []string{
		"ok kernel 6.1.0-57-cloud-amd64: 34 of 34 options and modules present (no kernel config file: modules and /proc checked; " +
			"not checked: CONFIG_CGROUP_PIDS CONFIG_CGROUP_CPUACCT CONFIG_CGROUP_DEVICE CONFIG_CGROUP_FREEZER CONFIG_CGROUP_SCHED " +
			"CONFIG_CPUSETS CONFIG_MEMCG CONFIG_CGROUP_BPF CONFIG_CFS_BANDWIDTH CONFIG_CGROUP_HUGETLB CONFIG_BLK_CGROUP)",
		"ok cgroup v2: cgroup2 on /sys/fs/cgroup with controllers cpu cpuset memory pids",
		"ok AppArmor: enabled in the kernel; /sbin/apparmor_parser present, so containerd confines containers with its default profile",
		"ok iptables: iptables v1.8.9 (nf_tables)",
		"ok modprobe: /usr/sbin/modprobe (K3s loads overlay, nf_conntrack, br_netfilter and iptable_nat with it)",
		"ok swap: off",
		"ok kernel.keys.root_maxkeys: 1000000",
		"ok resolver: k3s-api.site.test is 10.213.9.7 (asked 127.0.0.53, from /etc/resolv.conf)",
		"ok pod DNS: k3s-api.site.test is 10.213.9.7 (asked 10.213.9.1, from /run/systemd/resolve/resolv.conf, the file K3s gives kubelet and CoreDNS)",
		"passed: 42 requirements checked, 0 warnings",
	}
	if got := rep.Lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := dns.servers(); !reflect.DeepEqual(got, []string{"10.213.9.1:53", "127.0.0.53:53"}) {
		t.Errorf("asked name servers %v; want the stub (/etc/resolv.conf) and the upstream K3s picks", got)
	}
	if slept != 0 {
		t.Errorf("waited %s for a resolv.conf that was there", slept)
	}
	if rep.Kernel != testRelease || rep.KernelConfig != "" || !rep.Checked.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("report header: %+v", rep)
	}
	var vxlan Result
	for _, r := range rep.Results {
		if r.Name == "CONFIG_VXLAN" {
			vxlan = r
		}
	}
	if want := (Result{Name: "CONFIG_VXLAN", Kernel: true, Hard: true, OK: true, Detail: "module vxlan (loaded)"}); vxlan != want {
		t.Errorf("CONFIG_VXLAN = %+v, want %+v", vxlan, want)
	}
}

// TestKernelConfig reads the options from the kernel's config file, plain
// under /boot or gzipped as /proc/config.gz, as check-config.sh does: an
// option not set, or a module the config promises but the modules
// directory lacks, is missing.
func TestKernelConfig(t *testing.T) {
	config := "# Linux/x86 6.1 Kernel Configuration\n" +
		"CONFIG_NAMESPACES=y\nCONFIG_NET_NS=y\nCONFIG_PID_NS=y\nCONFIG_IPC_NS=y\nCONFIG_UTS_NS=y\nCONFIG_USER_NS=y\n" +
		"CONFIG_CGROUPS=y\nCONFIG_CGROUP_PIDS=y\nCONFIG_CGROUP_CPUACCT=y\nCONFIG_CGROUP_DEVICE=y\nCONFIG_CGROUP_FREEZER=y\n" +
		"CONFIG_CGROUP_SCHED=y\nCONFIG_CPUSETS=y\nCONFIG_MEMCG=y\nCONFIG_CGROUP_BPF=y\nCONFIG_SECCOMP=y\nCONFIG_KEYS=y\n" +
		"CONFIG_VETH=m\nCONFIG_BRIDGE=m\nCONFIG_BRIDGE_NETFILTER=m\nCONFIG_IP_NF_FILTER=m\nCONFIG_IP_NF_TARGET_MASQUERADE=m\n" +
		"CONFIG_IP_NF_TARGET_REJECT=m\nCONFIG_NETFILTER_XT_MATCH_ADDRTYPE=m\nCONFIG_NETFILTER_XT_MATCH_CONNTRACK=m\n" +
		"CONFIG_NETFILTER_XT_MATCH_IPVS=m\nCONFIG_NETFILTER_XT_MATCH_COMMENT=m\nCONFIG_NETFILTER_XT_MATCH_MULTIPORT=m\n" +
		"CONFIG_NETFILTER_XT_MATCH_STATISTIC=m\nCONFIG_IP_NF_NAT=m\nCONFIG_NF_NAT=m\nCONFIG_NF_CONNTRACK=m\nCONFIG_POSIX_MQUEUE=y\n" +
		"CONFIG_VXLAN=m\n# CONFIG_OVERLAY_FS is not set\nCONFIG_NF_TABLES=m\nCONFIG_NFT_COMPAT=m\nCONFIG_NFT_NAT=m\n" +
		"CONFIG_NFT_MASQ=m\nCONFIG_NFT_CT=m\nCONFIG_CFS_BANDWIDTH=y\nCONFIG_CGROUP_HUGETLB=y\nCONFIG_BLK_CGROUP=y\n" +
		"CONFIG_IP_SET=m\nCONFIG_IP_VS=m\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(config))
	zw.Close()
	for _, tc := range []struct{ path, content string }{
		{"/boot/config-" + testRelease, config},
		{"/proc/config.gz", gz.String()},
	} {
		t.Run(tc.path, func(t *testing.T) {
			root := liveRoot(t)
			writeFile(t, root, tc.path, tc.content)
			// vxlan neither loaded nor in modules.dep.
			writeFile(t, root, "proc/modules", "")
			writeFile(t, root, "lib/modules/"+testRelease+"/modules.dep", modulesDep(testModules[:15]))
			var slept time.Duration
			rep := run(t, options(root, startSiteDNS(t), &slept))
			if rep.Passed() || len(rep.Unchecked) != 0 || rep.KernelConfig != tc.path {
				t.Fatalf("report: %+v", rep)
			}
			lines := rep.Lines()
			for _, want := range []string{
				"missing kernel 6.1.0-57-cloud-amd64: 36 of 45 options and modules present (config " + tc.path + ")",
				"missing CONFIG_VXLAN: =m in " + tc.path + ", but module vxlan is neither loaded nor in /lib/modules/" + testRelease +
					"/modules.dep: flannel's vxlan backend, K3s's default (flannel-backend: vxlan), carries pod traffic between nodes",
				"missing CONFIG_OVERLAY_FS: not set in " + tc.path + ": containerd's overlayfs snapshotter, K3s's default, unpacks every image with it; K3s loads it (pkg/agent/syssetup)",
				"warning CONFIG_IP_SET: =m in " + tc.path + ", but module ip_set is neither loaded nor in /lib/modules/" + testRelease +
					"/modules.dep: K3s's network policy controller (kube-router, on by default) keeps its address sets in ipset",
				"failed: 7 hard requirements missing (CONFIG_VXLAN, CONFIG_OVERLAY_FS, CONFIG_NF_TABLES, CONFIG_NFT_COMPAT, CONFIG_NFT_NAT, CONFIG_NFT_MASQ, CONFIG_NFT_CT); 2 warnings",
			} {
				if !contains(lines, want) {
					t.Errorf("lines lack %q:\n%s", want, strings.Join(lines, "\n"))
				}
			}
		})
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestMissingRequirements breaks one thing of a complete node at a time:
// a hard requirement fails the check with one clear line, a soft one only
// warns.
func TestMissingRequirements(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(t *testing.T, root string, o *Options)
		passed bool
		// want are lines of the report; ROOT stands for the root, and a
		// line ending in "..." is a prefix.
		want []string
	}{
		{"no vxlan module", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "proc/modules", "")
			writeFile(t, root, "lib/modules/"+testRelease+"/modules.dep", modulesDep(testModules[:15]))
		}, false, []string{
			"missing CONFIG_VXLAN: module vxlan is not loaded, not in /lib/modules/" + testRelease + "/modules.builtin and not in its modules.dep: flannel's vxlan backend, K3s's default (flannel-backend: vxlan), carries pod traffic between nodes",
		}},
		{"no kernel modules directory", func(t *testing.T, root string, o *Options) {
			remove(t, root, "lib/modules")
		}, false, []string{
			"missing CONFIG_VETH: module veth is not loaded and there is no /lib/modules/" + testRelease + ": every pod's network interface is one end of a veth pair (flannel's CNI)",
		}},
		{"AppArmor without its parser", func(t *testing.T, root string, o *Options) {
			remove(t, root, "sbin/apparmor_parser")
		}, false, []string{
			"missing AppArmor: enabled in the kernel, but /sbin/apparmor_parser is missing: kubelet admits pods that ask for a profile and containerd refuses to create them (install the apparmor package)",
			"failed: 1 hard requirement missing (AppArmor); 0 warnings",
		}},
		{"AppArmor off", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "sys/module/apparmor/parameters/enabled", "N\n")
			writeFile(t, root, "proc/cmdline", "console=ttyS0 apparmor=0 lsm=landlock,yama\n")
		}, true, []string{
			"warning AppArmor: not enabled in the kernel (kernel command line: apparmor=0 lsm=landlock,yama): kubelet refuses pods that ask for an AppArmor profile",
			"passed: 42 requirements checked, 1 warning",
		}},
		{"cgroup v1", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "proc/self/mountinfo", "22 1 0:21 / / ro - overlay overlay rw\n35 22 0:30 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n")
		}, false, []string{
			"missing cgroup v2: /sys/fs/cgroup is tmpfs (cgroup v1 or hybrid): kubelet v1.36 refuses cgroup v1 (failCgroupV1 defaults to true)",
		}},
		{"no memory controller", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n")
		}, false, []string{
			`missing cgroup v2: no memory controller in /sys/fs/cgroup/cgroup.controllers ("cpuset cpu io pids"): K3s refuses to start without cpu, cpuset and memory, kubelet limits pods with all of cpu, cpuset, memory, pids`,
		}},
		{"iptables 1.8.2 on nf_tables", func(t *testing.T, root string, o *Options) {
			o.Runner = iptablesDouble{out: "iptables v1.8.2 (nf_tables)\n"}
		}, false, []string{"missing iptables: iptables v1.8.2 (nf_tables): iptables 1.8.0 to 1.8.3 on nf_tables duplicate and lose rules; K3s's check-config wants it older than 1.8.0, newer than 1.8.3, or in legacy mode"}},
		{"iptables 1.8.2 legacy", func(t *testing.T, root string, o *Options) {
			o.Runner = iptablesDouble{out: "iptables v1.8.2 (legacy)\n"}
		}, true, []string{
			"ok iptables: iptables v1.8.2 (legacy)",
			"ok kernel 6.1.0-57-cloud-amd64: 29 of 29 options and modules present (no kernel config file: ...",
		}},
		{"no iptables", func(t *testing.T, root string, o *Options) {
			o.Runner = iptablesDouble{err: missingTool("iptables")}
		}, true, []string{"warning iptables: not installed: K3s falls back to the iptables it bundles"}},
		{"no modprobe, modules to load", func(t *testing.T, root string, o *Options) {
			remove(t, root, "usr/sbin/modprobe")
		}, false, []string{"missing modprobe: not installed, and modules K3s needs are not loaded yet (veth bridge br_netfilter ..."}},
		{"no modprobe, every module loaded", func(t *testing.T, root string, o *Options) {
			remove(t, root, "usr/sbin/modprobe")
			var loaded strings.Builder
			for _, m := range testModules {
				loaded.WriteString(m + " 16384 0 - Live 0x0\n")
			}
			writeFile(t, root, "proc/modules", loaded.String())
		}, true, []string{"warning modprobe: not installed (every module K3s needs is loaded or built in)"}},
		{"swap", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/vda3\tpartition\t1048572\t0\t-2\n")
		}, true, []string{"warning swap: on (1 device): K3s's check-config wants it disabled; kubelet's memory accounting and evictions assume no swap"}},
		{"few keys", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "proc/sys/kernel/keys/root_maxkeys", "200\n")
		}, true, []string{"warning kernel.keys.root_maxkeys: 200: K3s's check-config wants more than 10000; every container takes a session keyring"}},
		{"server name unknown", func(t *testing.T, root string, o *Options) {
			o.ServerName = "elsewhere.site.test"
		}, true, []string{
			"warning resolver: elsewhere.site.test does not resolve: 127.0.0.53 answered NXDOMAIN with no IPv4 address (from /etc/resolv.conf); this node reaches its cluster's server by that name",
			"warning pod DNS: elsewhere.site.test does not resolve: 10.213.9.1 answered NXDOMAIN with no IPv4 address (from /run/systemd/resolve/resolv.conf, the file K3s gives kubelet and CoreDNS); ...",
		}},
		{"initial server", func(t *testing.T, root string, o *Options) {
			o.ServerName = ""
		}, true, []string{
			"ok resolver: 127.0.0.53 replies (NXDOMAIN to a question for the root zone; from /etc/resolv.conf)",
			"ok pod DNS: 10.213.9.1 replies (NXDOMAIN to a question for the root zone; from /run/systemd/resolve/resolv.conf, the file K3s gives kubelet and CoreDNS)",
		}},
		{"no upstream name server", func(t *testing.T, root string, o *Options) {
			writeFile(t, root, "run/systemd/resolve/resolv.conf", "# No DNS servers known.\nsearch .\n")
		}, true, []string{
			"warning pod DNS: neither /etc/resolv.conf nor /run/systemd/resolve/resolv.conf lists only global unicast name servers (waited 10s): K3s will give kubelet and CoreDNS a resolv.conf of its own with nameserver 8.8.8.8, which an air-gapped site cannot reach",
		}},
		{"no systemd-resolved, firstboot's resolv.conf", func(t *testing.T, root string, o *Options) {
			remove(t, root, "etc/resolv.conf")
			remove(t, root, "run/systemd/resolve")
			writeFile(t, root, "etc/resolv.conf", "# Written by firstboot\nnameserver 10.213.9.1\n")
		}, true, []string{
			"ok resolver: k3s-api.site.test is 10.213.9.7 (asked 10.213.9.1, from /etc/resolv.conf)",
			"ok pod DNS: k3s-api.site.test is 10.213.9.7 (asked 10.213.9.1, from /etc/resolv.conf, the file K3s gives kubelet and CoreDNS)",
		}},
		{"kernel config is a FIFO", func(t *testing.T, root string, o *Options) {
			if err := syscall.Mkfifo(root+"/proc/config.gz", 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, []string{
			"warning kernel config: read ROOT/proc/config.gz: not a regular file (p---------): checked without it",
			"ok kernel 6.1.0-57-cloud-amd64: 34 of 34 options and modules present (no kernel config file: ...",
		}},
		{"resolv.conf is a FIFO", func(t *testing.T, root string, o *Options) {
			remove(t, root, "etc/resolv.conf")
			if err := syscall.Mkfifo(root+"/etc/resolv.conf", 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, []string{
			"warning resolver: read ROOT/etc/resolv.conf: not a regular file (p---------): neither K3s nor the node's tools can resolve names",
			"ok pod DNS: k3s-api.site.test is 10.213.9.7 (asked 10.213.9.1, from /run/systemd/resolve/resolv.conf, the file K3s gives kubelet and CoreDNS)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := liveRoot(t)
			var slept time.Duration
			o := options(root, startSiteDNS(t), &slept)
			tc.edit(t, root, &o)
			rep := run(t, o)
			lines := rep.Lines()
			if rep.Passed() != tc.passed {
				t.Errorf("passed = %v, want %v:\n%s", rep.Passed(), tc.passed, strings.Join(lines, "\n"))
			}
			if !strings.HasPrefix(lines[len(lines)-1], map[bool]string{true: "passed: ", false: "failed: "}[tc.passed]) {
				t.Errorf("summary %q", lines[len(lines)-1])
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "ROOT", root)
				prefix, isPrefix := strings.CutSuffix(w, "...")
				found := false
				for _, l := range lines {
					found = found || l == w || (isPrefix && strings.HasPrefix(l, prefix))
				}
				if !found {
					t.Errorf("lines lack %q:\n%s", w, strings.Join(lines, "\n"))
				}
			}
		})
	}
}

// TestNotBooted: a root without a running kernel's /proc is not checked.
func TestNotBooted(t *testing.T) {
	root := liveRoot(t)
	remove(t, root, "proc")
	if _, err := Run(context.Background(), Options{Root: root}); !errors.Is(err, ErrNotBooted) {
		t.Errorf("err = %v, want ErrNotBooted", err)
	}
}
