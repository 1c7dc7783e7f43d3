package baseos

import (
	"fmt"
	"io/fs"

	"github.com/ml-appliance/appliance/builder/rootfs"
)

// notANodesOwn are paths (patterns) of a base that are no node's own: files
// a base carries from the machine that made it (mmdebstrap copies the
// host's /etc/resolv.conf and /etc/hostname into the chroot, see its
// manual, SOURCE_DATE_EPOCH; container builds leave the build container's;
// systemd-resolved's postinst keeps the copied resolv.conf as a backup when
// it installs its own link), an identity every appliance made from the
// image would share, and what the appliance never uses. An image must not
// ask the factory's name servers, call itself after the build machine or
// share host keys.
var notANodesOwn = []string{
	"etc/hostname", // firstboot writes the node's own on every boot
	"etc/hosts",    // replaced by applianceHosts
	"etc/resolv.conf",
	"etc/.resolv.conf.systemd-resolved.bak",
	"etc/ssh/ssh_host_*", // host keys: firstboot makes each node its own
	"etc/machine-id",     // replaced by an empty one (below)
	"var/lib/dbus/machine-id",
	"boot/initrd.img*", // the distribution's initramfs: the appliance boots its own
	"initrd.img", "initrd.img.old",
}

// applianceHosts is the appliance's /etc/hosts: loopback names only. The
// node's own name comes from systemd-resolved (it answers for the local
// hostname) or from DNS, never from a file baked into every node.
const applianceHosts = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"ff02::1\tip6-allnodes\n" +
	"ff02::2\tip6-allrouters\n"

// ResolvedStubLink is the target of the appliance's /etc/resolv.conf when
// the base runs systemd-resolved: its stub (127.0.0.53), relative as
// systemd-resolved's own package makes it, so the link also resolves under
// another root. Name servers reach systemd-resolved from systemd-networkd
// (DHCP and the network config's DNS=); it lists them, the upstream
// servers, in /run/systemd/resolve/resolv.conf, which K3s gives kubelet
// and CoreDNS since the stub's 127.0.0.53 is a loopback address (k3s
// pkg/agent/config: locateOrGenerateResolvConf).
const ResolvedStubLink = "../run/systemd/resolve/stub-resolv.conf"

// resolvedBinaries are where systemd-resolved's daemon is, merged /usr or
// not.
var resolvedBinaries = []string{"usr/lib/systemd/systemd-resolved", "lib/systemd/systemd-resolved"}

// resolvedEnabled is a glob for systemd-resolved's enablement link (its
// unit says WantedBy=sysinit.target; any target counts).
const resolvedEnabled = "etc/systemd/system/*.wants/systemd-resolved.service"

// replaceBuildHostFiles drops notANodesOwn from the tree and lays down
// the appliance's own: an empty /etc/machine-id (systemd then takes the
// boot for a first boot; the init puts the node's own, persistent one over
// it), a loopback-only /etc/hosts and, when the base runs systemd-resolved
// (installed and enabled), /etc/resolv.conf linked to its stub. Without
// systemd-resolved there is no /etc/resolv.conf: firstboot writes one from
// the node's network config at every boot.
func replaceBuildHostFiles(t *rootfs.Tree) error {
	for _, p := range notANodesOwn {
		if _, err := t.Remove(p); err != nil {
			return fmt.Errorf("drop %s from the base: %w", p, err)
		}
	}
	opts := rootfs.FileOptions{Origin: "builder"}
	if err := t.AddFile("etc/machine-id", 0o444, nil, opts); err != nil {
		return fmt.Errorf("add /etc/machine-id: %w", err)
	}
	if err := t.AddFile("etc/hosts", 0o644, []byte(applianceHosts), opts); err != nil {
		return fmt.Errorf("add /etc/hosts: %w", err)
	}
	ok, err := runsResolved(t)
	if err != nil || !ok {
		return err
	}
	if err := t.AddSymlink("etc/resolv.conf", ResolvedStubLink, opts); err != nil {
		return fmt.Errorf("link /etc/resolv.conf to systemd-resolved's stub: %w", err)
	}
	return nil
}

// runsResolved reports whether the tree has systemd-resolved's daemon and
// enables its unit.
func runsResolved(fsys fs.FS) (bool, error) {
	links, err := fs.Glob(fsys, resolvedEnabled)
	if err != nil {
		return false, fmt.Errorf("look for systemd-resolved's enablement: %w", err)
	}
	if len(links) == 0 {
		return false, nil
	}
	for _, p := range resolvedBinaries {
		if fi, err := fs.Stat(fsys, p); err == nil && fi.Mode().IsRegular() {
			return true, nil
		}
	}
	return false, nil
}
