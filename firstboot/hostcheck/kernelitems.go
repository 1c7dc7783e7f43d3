package hostcheck

// kernelItem is one kernel option K3s needs.
type kernelItem struct {
	// option is the config option without CONFIG_.
	option string
	// module is the module the option builds, when it may be one: without
	// a config file, the module's presence is the evidence.
	module string
	// probe is a path that exists only when the option is set, the
	// evidence for a built-in option without a config file; with neither
	// module nor probe the option is checked only against a config file.
	probe string
	hard  bool
	// why says what fails without it.
	why string
}

// Why each group of options is needed.
const (
	whyNamespaces = "runc runs every container in its own namespaces"
	whyCgroup     = "kubelet and containerd put every pod in a cgroup with this controller (K3s check-config: Generally Necessary)"
	whyIptables   = "kube-proxy's and flannel's iptables rules use it (K3s check-config: Generally Necessary)"
	whyNftables   = "the node's iptables runs on nf_tables (iptables-nft), so every rule K3s writes needs it"
)

// kernelItems are the kernel options checked: check-config.sh's
// "Generally Necessary" list (hard, as it counts them as failures), the
// drivers the appliance's K3s defaults use (flannel's vxlan backend,
// containerd's overlayfs snapshotter: hard), the nf_tables options when
// iptables runs on nf_tables, and check-config's optional features that
// matter to a K3s cluster (soft).
func kernelItems(iptablesMode string) []kernelItem {
	items := []kernelItem{
		{option: "NAMESPACES", probe: "/proc/self/ns/uts", hard: true, why: whyNamespaces},
		{option: "NET_NS", probe: "/proc/self/ns/net", hard: true, why: whyNamespaces},
		{option: "PID_NS", probe: "/proc/self/ns/pid", hard: true, why: whyNamespaces},
		{option: "IPC_NS", probe: "/proc/self/ns/ipc", hard: true, why: whyNamespaces},
		{option: "UTS_NS", probe: "/proc/self/ns/uts", hard: true, why: whyNamespaces},
		{option: "CGROUPS", probe: "/proc/self/ns/cgroup", hard: true, why: whyCgroup},
		// The controllers of a running kernel are checked under "cgroup v2";
		// these options are read from a config file only.
		{option: "CGROUP_PIDS", hard: true, why: whyCgroup},
		{option: "CGROUP_CPUACCT", hard: true, why: whyCgroup},
		{option: "CGROUP_DEVICE", hard: true, why: whyCgroup},
		{option: "CGROUP_FREEZER", hard: true, why: whyCgroup},
		{option: "CGROUP_SCHED", hard: true, why: whyCgroup},
		{option: "CPUSETS", hard: true, why: whyCgroup},
		{option: "MEMCG", hard: true, why: whyCgroup},
		{option: "CGROUP_BPF", hard: true, why: "runc enforces a container's device rules with BPF programs on cgroup v2"},
		{option: "SECCOMP", probe: "/proc/sys/kernel/seccomp/actions_avail", hard: true,
			why: "containerd applies the RuntimeDefault seccomp profile"},
		{option: "KEYS", probe: "/proc/sys/kernel/keys", hard: true, why: "runc gives every container a session keyring"},
		{option: "VETH", module: "veth", hard: true, why: "every pod's network interface is one end of a veth pair (flannel's CNI)"},
		{option: "BRIDGE", module: "bridge", hard: true, why: "pods attach to flannel's cni0 bridge"},
		{option: "BRIDGE_NETFILTER", module: "br_netfilter", hard: true,
			why: "K3s loads it and sets net.bridge.bridge-nf-call-iptables (k3s pkg/agent/syssetup Configure)"},
		{option: "IP_NF_FILTER", module: "iptable_filter", hard: true, why: whyIptables},
		{option: "IP_NF_TARGET_MASQUERADE", module: "xt_MASQUERADE", hard: true, why: whyIptables},
		{option: "IP_NF_TARGET_REJECT", module: "ipt_REJECT", hard: true, why: whyIptables},
		{option: "NETFILTER_XT_MATCH_ADDRTYPE", module: "xt_addrtype", hard: true, why: whyIptables},
		{option: "NETFILTER_XT_MATCH_CONNTRACK", module: "xt_conntrack", hard: true, why: whyIptables},
		{option: "NETFILTER_XT_MATCH_IPVS", module: "xt_ipvs", hard: true, why: whyIptables},
		{option: "NETFILTER_XT_MATCH_COMMENT", module: "xt_comment", hard: true, why: whyIptables},
		{option: "NETFILTER_XT_MATCH_MULTIPORT", module: "xt_multiport", hard: true, why: whyIptables},
		{option: "NETFILTER_XT_MATCH_STATISTIC", module: "xt_statistic", hard: true, why: whyIptables},
		{option: "IP_NF_NAT", module: "iptable_nat", hard: true, why: "K3s loads iptable_nat (k3s pkg/agent/syssetup Configure); " + whyIptables},
		{option: "NF_NAT", module: "nf_nat", hard: true, why: whyIptables},
		{option: "NF_CONNTRACK", module: "nf_conntrack", hard: true, why: "K3s loads it and sizes its table (k3s pkg/agent/syssetup Configure)"},
		{option: "POSIX_MQUEUE", probe: "/proc/sys/fs/mqueue", hard: true, why: "every container gets an IPC namespace with POSIX message queues"},
		{option: "VXLAN", module: "vxlan", hard: true,
			why: "flannel's vxlan backend, K3s's default (flannel-backend: vxlan), carries pod traffic between nodes"},
		{option: "OVERLAY_FS", module: "overlay", hard: true,
			why: "containerd's overlayfs snapshotter, K3s's default, unpacks every image with it; K3s loads it (pkg/agent/syssetup)"},
	}
	if iptablesMode == "nf_tables" {
		for _, nft := range []struct{ option, module string }{
			{"NF_TABLES", "nf_tables"}, {"NFT_COMPAT", "nft_compat"}, {"NFT_NAT", "nft_nat"},
			{"NFT_MASQ", "nft_masq"}, {"NFT_CT", "nft_ct"},
		} {
			items = append(items, kernelItem{option: nft.option, module: nft.module, hard: true, why: whyNftables})
		}
	}
	return append(items,
		kernelItem{option: "USER_NS", probe: "/proc/self/ns/user", why: "pods with hostUsers: false run in a user namespace"},
		kernelItem{option: "CFS_BANDWIDTH", why: "kubelet enforces CPU limits with the CFS quota (cpu.max)"},
		kernelItem{option: "CGROUP_HUGETLB", why: "kubelet accounts and limits huge pages with it"},
		kernelItem{option: "BLK_CGROUP", why: "the io controller; kubelet's io accounting"},
		kernelItem{option: "IP_SET", module: "ip_set",
			why: "K3s's network policy controller (kube-router, on by default) keeps its address sets in ipset"},
		kernelItem{option: "IP_VS", module: "ip_vs", why: "kube-proxy's ipvs mode (not K3s's default, iptables)"},
	)
}
