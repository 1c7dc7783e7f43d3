package site

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// key is a well-formed ed25519 public key (its private half was discarded).
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEtnZOcs2z/tad2fan3bdtJJu5KLjTmWbgMpLqOo4FMl"

// withNodes is valid with its inventory replaced. An inventory of more than
// one node gets a cluster.server after it (on the line after the last
// node, so the nodes keep their lines).
func withNodes(nodes ...string) string {
	inventory := "    - " + strings.Join(nodes, "\n    - ") + "\n"
	if len(nodes) > 1 {
		inventory += "  server: https://10.0.0.10:6443\n"
	}
	return strings.Replace(valid, "    - {hostname: a, role: server, init: true}\n", inventory, 1)
}

// withBase is valid with os.base's body replaced (each line indented by 4).
func withBase(lines ...string) string {
	return strings.Replace(valid, "    rootfs: base.tar\n", "    "+strings.Join(lines, "\n    ")+"\n", 1)
}

// withOS is valid with lines added to os after base.
func withOS(lines ...string) string {
	return strings.Replace(valid, "    rootfs: base.tar\n", "    rootfs: base.tar\n  "+strings.Join(lines, "\n  ")+"\n", 1)
}

const noInit = "site.yaml:8: cluster: no initial server: no node has init: true and defaultRole is agent, so nothing initialises the cluster; mark one server with init: true"

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
		warnings         []string
	}{{
		name: "valid",
		data: valid,
	}, {
		name:     "missing required fields",
		data:     "metadata: {}\n",
		want:     "site.yaml:1: apiVersion: required (appliance/v1alpha1)\nsite.yaml:1: kind: required (Site)\nsite.yaml:1: metadata.name: required\nsite.yaml:1: os.base: required: one of rootfs, dir or image",
		warnings: []string{"site.yaml:1: cluster: no initial server: no node has init: true and defaultRole is agent, so nothing initialises the cluster; mark one server with init: true"},
	}, {
		name: "wrong apiVersion and kind",
		data: strings.Replace(strings.Replace(valid, "appliance/v1alpha1", "appliance/v1", 1), "kind: Site", "kind: NodeConfig", 1),
		want: "site.yaml:1: apiVersion: unsupported \"appliance/v1\" (want appliance/v1alpha1)\nsite.yaml:2: kind: unsupported \"NodeConfig\" (want Site)",
	}, {
		name: "name is not a DNS label",
		data: strings.Replace(valid, "name: lab", "name: ML_Lab", 1),
		want: `site.yaml:4: metadata.name: invalid name "ML_Lab": want a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
	}, {
		name: "base with two kinds",
		data: withBase("rootfs: base.tar", "dir: rootfs/"),
		want: "site.yaml:6: os.base: set only one of rootfs, dir or image (found rootfs and dir)",
	}, {
		name: "empty base",
		data: strings.Replace(valid, "  base:\n    rootfs: base.tar\n", "  base: {}\n", 1),
		want: "site.yaml:6: os.base: required: one of rootfs, dir or image",
	}, {
		name: "rootfs URL without sha256",
		data: withBase("rootfs: https://mirror.internal/base.tar"),
		want: "site.yaml:6: os.base.sha256: required when rootfs is a URL (the build verifies the download against it)",
	}, {
		name: "rootfs URL with an unsupported scheme and a bad sha256",
		data: withBase("rootfs: ftp://mirror.internal/base.tar", "sha256: abc"),
		want: "site.yaml:7: os.base.rootfs: unsupported URL scheme \"ftp\" (want http, https or a path)\nsite.yaml:8: os.base.sha256: invalid sha256 \"abc\": want 64 hexadecimal digits",
	}, {
		name: "rootfs URL with sha256",
		data: withBase("rootfs: http://mirror.internal/base.tar", "sha256: "+strings.Repeat("AB", 32)),
	}, {
		name: "sha256 with an image",
		data: withBase("image: debian:12", "sha256: "+strings.Repeat("ab", 32)),
		want: "site.yaml:8: os.base.sha256: only for rootfs (an image pins its digest in the reference: repo@sha256:...)",
	}, {
		name: "image without tag",
		data: withBase("image: registry.internal:5000/base/debian"),
		want: "site.yaml:7: os.base.image: image reference \"registry.internal:5000/base/debian\" has no tag or digest (want repo:tag or repo@sha256:...)",
	}, {
		name: "image with digest",
		data: withBase("image: registry.internal:5000/base/debian@sha256:" + strings.Repeat("0", 64)),
	}, {
		name: "invalid image reference",
		data: withBase("image: Debian:12"),
		want: "site.yaml:7: os.base.image: invalid image reference \"Debian:12\": could not parse reference: Debian:12",
	}, {
		name: "kernel deb URL without sha256, bootloader URL",
		data: withOS("kernel: {deb: https://deb.internal/linux-image.deb}", "bootloader: {efi: https://x/y.efi}"),
		want: "site.yaml:8: os.kernel.sha256: required when deb is a URL (the build verifies the download against it)\nsite.yaml:9: os.bootloader.efi: want a path to an EFI binary, not a URL",
	}, {
		name: "kernel sha256 without deb",
		data: withOS("kernel: {sha256: " + strings.Repeat("ab", 32) + "}"),
		want: "site.yaml:8: os.kernel.sha256: given without deb",
	}, {
		name: "cmdline entries",
		data: withOS("cmdline:", "  - quiet", "  - console=tty0 console=ttyS0", "  - \"\"", "  - appliance.os=PARTLABEL=OS-B", `  - 'foo="a b"'`),
		want: "site.yaml:10: os.cmdline[1]: \"console=tty0 console=ttyS0\" holds 2 parameters: give one per list entry\nsite.yaml:11: os.cmdline[2]: empty parameter\nsite.yaml:12: os.cmdline[3]: appliance.os is set by the builder\n" +
			`site.yaml:13: os.cmdline[4]: "foo=\"a b\"": '"' at byte 4: ` + bootparam.ArgRule,
	}, {
		name: "cmdline turning AppArmor off",
		data: withOS("cmdline:", "  - apparmor=0", "  - lsm=landlock,yama", "  - security=apparmor", "  - lsm=landlock,apparmor"),
		warnings: []string{
			`site.yaml:9: os.cmdline[0]: "apparmor=0" turns AppArmor off: containerd then refuses every pod that asks for an AppArmor profile ("apparmor is not supported"), and the node's host check warns`,
			`site.yaml:10: os.cmdline[1]: "lsm=landlock,yama" turns AppArmor off: containerd then refuses every pod that asks for an AppArmor profile ("apparmor is not supported"), and the node's host check warns`,
		},
	}, {
		name: "initramfs compression and modules",
		data: withOS("initramfs:", "  compression: xz", "  modules: [nvme, kernel/drivers/nvme.ko, nvme]"),
		want: "site.yaml:9: os.initramfs.compression: unsupported \"xz\" (want gzip, zstd or none)\nsite.yaml:10: os.initramfs.modules[1]: invalid module name \"kernel/drivers/nvme.ko\" (want a name like \"nvme\", without directory or .ko)\nsite.yaml:10: os.initramfs.modules[2]: duplicate module \"nvme\" (also os.initramfs.modules[0])",
	}, {
		name: "bad roles",
		data: strings.Replace(withNodes("{hostname: a, role: server, init: true}", "{hostname: b, role: worker}"), "cluster:\n", "cluster:\n  defaultRole: master\n", 1),
		want: "site.yaml:9: cluster.defaultRole: unsupported role \"master\" (want server or agent)\nsite.yaml:12: cluster.nodes[1].role: unsupported role \"worker\" (want server or agent)",
	}, {
		name: "hostnames",
		data: withNodes("{hostname: a, role: server, init: true}", "{hostname: a}", "{hostname: B}", "{role: agent}"),
		want: "site.yaml:11: cluster.nodes[1].hostname: duplicate hostname \"a\" (also cluster.nodes[0])\nsite.yaml:12: cluster.nodes[2].hostname: invalid hostname \"B\": want a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters\nsite.yaml:13: cluster.nodes[3].hostname: required",
	}, {
		name: "duplicate MAC in another spelling",
		data: withNodes(`{hostname: a, role: server, init: true, mac: "52:54:00:AB:00:01"}`, `{hostname: b, mac: 52-54-00-ab-00-01}`),
		want: "site.yaml:11: cluster.nodes[1].mac: duplicate MAC 52:54:00:ab:00:01 (also cluster.nodes[0])",
	}, {
		name: "invalid MACs",
		data: withNodes(`{hostname: a, role: server, init: true, mac: "52:54:00:00:01"}`, `{hostname: b, mac: "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"}`),
		want: "site.yaml:10: cluster.nodes[0].mac: invalid MAC \"52:54:00:00:01\" (want six hex pairs like 52:54:00:12:34:56)\nsite.yaml:11: cluster.nodes[1].mac: invalid MAC \"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01\" (want six hex pairs like 52:54:00:12:34:56)",
	}, {
		name:     "two init nodes",
		data:     withNodes("{hostname: a, role: server, init: true}", "{hostname: b, role: server, init: true}", "{hostname: c, role: server}"),
		want:     "site.yaml:11: cluster.nodes[1].init: a second initial server (cluster.nodes[0] has init: true): exactly one node initialises the cluster",
		warnings: nil,
	}, {
		name:     "init on an agent",
		data:     withNodes("{hostname: a, init: true}"),
		want:     "site.yaml:10: cluster.nodes[0].init: only a server can initialise the cluster (role is agent)",
		warnings: []string{noInit},
	}, {
		name: "addresses",
		data: withNodes("{hostname: a, role: server, init: true, address: 10.0.0.10/24}", "{hostname: b, address: 10.0.0.11}", "{hostname: c, address: 10.0.0.0/24}", "{hostname: d, address: 10.0.0.10/16}", "{hostname: e, address: 10.0.0.255/31}"),
		want: "site.yaml:11: cluster.nodes[1].address: invalid address \"10.0.0.11\": want an IP address with a prefix length, like 10.0.0.10/24\nsite.yaml:12: cluster.nodes[2].address: 10.0.0.0/24 is the network address of its subnet, not a host address\nsite.yaml:13: cluster.nodes[3].address: duplicate address 10.0.0.10 (also cluster.nodes[0].address)",
	}, {
		name:     "no initial server",
		data:     withNodes("{hostname: a, role: server}"),
		warnings: []string{noInit},
	}, {
		name: "no initial server is fine when every node is a server",
		data: strings.Replace(withNodes("{hostname: a}"), "cluster:\n", "cluster:\n  defaultRole: server\n", 1),
	}, {
		name:     "even server count",
		data:     withNodes("{hostname: a, role: server, init: true}", "{hostname: b, role: server}", "{hostname: c}"),
		warnings: []string{"site.yaml:9: cluster.nodes: 2 servers: etcd needs a majority, so an even count tolerates no more failures than one server fewer; use an odd number"},
	}, {
		name: "authorized keys",
		data: valid + "  ssh:\n    authorizedKeys:\n" +
			"      - " + key + " ops@example\n" +
			"      - ssh-ed25519\n" +
			"      - ssh-dss AAAAB3NzaC1kc3M=\n" +
			"      - ssh-ed25519 AAAA...\n" +
			"      - ssh-rsa " + strings.Fields(key)[1] + "\n" +
			"      - " + key + " other@example\n",
		want: "site.yaml:14: cluster.ssh.authorizedKeys[1]: want an authorized_keys line \"TYPE KEY [COMMENT]\", like \"ssh-ed25519 AAAAC3Nz... ops@example\"\n" +
			"site.yaml:15: cluster.ssh.authorizedKeys[2]: unsupported key type \"ssh-dss\" (want one of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com; options before the type are not supported)\n" +
			"site.yaml:16: cluster.ssh.authorizedKeys[3]: key data is not valid base64\n" +
			"site.yaml:17: cluster.ssh.authorizedKeys[4]: key data is not a ssh-rsa key\n" +
			"site.yaml:18: cluster.ssh.authorizedKeys[5]: duplicate key (also cluster.ssh.authorizedKeys[0])",
	}, {
		name: "raw size not a whole number of sectors",
		data: valid + "outputs:\n  raw: {size: 1KB}\n",
		want: "site.yaml:12: outputs.raw.size: 1000 bytes is not a multiple of the 512-byte sector",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, tc.data, tc.want, tc.warnings)
		})
	}
}
