package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/kernel"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// replacedKernel is what a base's own kernel consists of, dropped when
// os.kernel.deb supplies another.
var replacedKernel = []string{
	"boot/vmlinuz-*", "boot/config-*", "boot/System.map-*", "vmlinuz", "vmlinuz.old",
	"usr/lib/modules/*",
}

// completeRootfs turns the base (baseos.AddTo has removed what was the build
// machine's or a node's own) into the appliance's root filesystem: kernel
// modules of a separately supplied kernel added,
// K3s, then overlays (so an operator can override any of it), the firstboot
// agent and the baked node config on top.
func (b *pipeline) completeRootfs(tree *rootfs.Tree, k kernel.Kernel) error {
	if b.site.OS.Kernel.Deb != "" {
		// The .deb's kernel replaces the base's: drop the base's kernel and
		// its modules (tens of MB the appliance would never load).
		for _, pattern := range replacedKernel {
			if _, err := tree.Remove(pattern); err != nil {
				return fmt.Errorf("drop the base's kernel (%s): %w", pattern, err)
			}
		}
		if err := tree.AddDir(filepath.Join(b.kernelDebDir, filepath.FromSlash(k.ModulesDir)), "usr/lib/modules/"+k.Version,
			rootfs.DirOptions{Origin: "kernel"}); err != nil {
			return fmt.Errorf("add kernel modules: %w", err)
		}
		if err := addKernelConfig(tree, b.kernelDebDir, k.Version); err != nil {
			return err
		}
	}
	if err := b.addCluster(tree); err != nil {
		return err
	}
	for _, o := range b.site.OS.Overlays {
		if err := tree.AddDir(o, "/", rootfs.DirOptions{Origin: "overlay:" + o}); err != nil {
			return fmt.Errorf("add overlay %s: %w", o, err)
		}
		digest, err := dirDigest(o)
		if err != nil {
			return err
		}
		b.addInput("overlay", o, digest, 0)
	}
	if err := b.addAgent(tree); err != nil {
		return err
	}
	return b.addNodeConfig(tree)
}

// addKernelConfig adds the .deb's boot/config-<version>, if it has one:
// firstboot's host check reads the kernel's options there (Debian kernels
// have no /proc/config.gz).
func addKernelConfig(tree *rootfs.Tree, debDir, version string) error {
	name := "boot/config-" + version
	src := filepath.Join(debDir, filepath.FromSlash(name))
	if info, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("kernel config: %w", err)
	} else if !info.Mode().IsRegular() {
		return fmt.Errorf("kernel config %s: not a regular file", name)
	}
	if err := tree.AddFileFrom(name, 0o644, src, rootfs.FileOptions{Origin: "kernel"}); err != nil {
		return fmt.Errorf("add kernel config: %w", err)
	}
	return nil
}

func (b *pipeline) addAgent(tree *rootfs.Tree) error {
	bin := b.agentPath("firstboot")
	if err := b.localInput("firstboot", bin, ""); err != nil {
		return fmt.Errorf("firstboot agent (build it with `make build`, or pass --agent-dir): %w", err)
	}
	if err := tree.AddFileFrom(payload.BinaryPath, 0o755, bin, rootfs.FileOptions{Origin: "firstboot"}); err != nil {
		return err
	}
	for _, f := range payload.Files() {
		var err error
		if f.Mode&fs.ModeSymlink != 0 {
			err = tree.AddSymlink(f.Path, f.Linkname, rootfs.FileOptions{Origin: "firstboot"})
		} else {
			err = tree.AddFile(f.Path, f.Mode, f.Content, rootfs.FileOptions{Origin: "firstboot"})
		}
		if err != nil {
			return fmt.Errorf("add firstboot file %s: %w", f.Path, err)
		}
	}
	return nil
}

// addNodeConfig bakes the node config, and with K3s the cluster identity
// and settings it names (clusterConfig).
func (b *pipeline) addNodeConfig(tree *rootfs.Tree) error {
	cluster, err := b.clusterConfig(tree)
	if err != nil {
		return err
	}
	c := nodeconfig.Config{
		APIVersion: nodeconfig.APIVersion, Kind: nodeconfig.Kind,
		Site:              b.site.Metadata.Name,
		DefaultRole:       b.site.Cluster.DefaultRole,
		SSHAuthorizedKeys: b.site.Cluster.SSH.AuthorizedKeys,
		Cluster:           cluster,
	}
	for _, n := range b.site.Cluster.Nodes {
		c.Nodes = append(c.Nodes, nodeconfig.Node{
			Hostname: n.Hostname, MAC: n.MAC, Serial: n.Serial, Role: n.Role, Init: n.Init, Address: n.Address,
			Labels: n.Labels, Taints: n.Taints,
		})
	}
	data, err := nodeconfig.Marshal(c)
	if err != nil {
		return err
	}
	return tree.AddFile(nodeconfig.Path, 0o644, data, rootfs.FileOptions{Origin: "site"})
}
