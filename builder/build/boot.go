package build

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ml-appliance/appliance/builder/initramfs"
	"github.com/ml-appliance/appliance/builder/kernel"
	"github.com/ml-appliance/appliance/builder/osimage"
	"github.com/ml-appliance/appliance/builder/rootfs"
)

// Where the base OS keeps systemd-boot (Debian's systemd-boot-efi package).
const baseBootloaderPath = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"

// kernel finds the kernel: from the planned .deb, else inside the base.
func (b *pipeline) kernel(ctx context.Context, tree *rootfs.Tree) (kernel.Kernel, error) {
	if deb := b.planned.Kernel; deb != nil {
		b.report.Inputs = append(b.report.Inputs, deb.Input)
		b.kernelDebDir = filepath.Join(b.scratch, "kernel")
		k, err := kernel.FromDeb(deb.Path, b.kernelDebDir)
		if err != nil {
			return kernel.Kernel{}, fmt.Errorf("kernel from %s: %w", deb.Input.Source, err)
		}
		// A kernel package ships no module index: Debian's postinst runs
		// depmod. Without it the booted system's modprobe (and udev's
		// driver loading) finds nothing.
		out, err := exec.CommandContext(ctx, "depmod", "-b", b.kernelDebDir, k.Version).CombinedOutput()
		if err != nil {
			return kernel.Kernel{}, fmt.Errorf("depmod for kernel %s from %s: %w: %s", k.Version, deb.Input.Source, err, out)
		}
		return k, nil
	}
	k, err := kernel.Find(tree)
	if err != nil {
		return kernel.Kernel{}, fmt.Errorf("kernel in base OS (or set os.kernel.deb): %w", err)
	}
	return k, nil
}

// writeKernel copies the kernel image to <name>.vmlinuz.
func (b *pipeline) writeKernel(k kernel.Kernel) (string, error) {
	name := b.site.Metadata.Name + ".vmlinuz"
	src, err := k.FS.Open(k.ImagePath)
	if err != nil {
		return "", fmt.Errorf("open kernel image: %w", err)
	}
	defer src.Close()
	if err := writeStaged(b.dir.Path(name), src); err != nil {
		return "", fmt.Errorf("write kernel: %w", err)
	}
	return b.dir.Path(name), b.describe("kernel", name)
}

// writeInitramfs builds <name>.initrd.
func (b *pipeline) writeInitramfs(k kernel.Kernel, tree *rootfs.Tree) (string, error) {
	ir := b.site.OS.Initramfs
	var shell string
	if ir.RescueShell {
		var err error
		if shell, err = b.rescueShell(tree); err != nil {
			return "", err
		}
	}
	name := b.site.Metadata.Name + ".initrd"
	init := b.agentPath("appliance-init")
	if err := b.localInput("appliance-init", init, ""); err != nil {
		return "", fmt.Errorf("initramfs init (build it with `make build`, or pass --agent-dir): %w", err)
	}
	f, err := os.Create(b.dir.Path(name))
	if err != nil {
		return "", fmt.Errorf("create initramfs: %w", err)
	}
	modules, err := b.initramfsModules(k)
	if err != nil {
		f.Close()
		return "", err
	}
	err = initramfs.Build(f, initramfs.Options{
		Init: init, Kernel: k, RescueShell: shell,
		Modules:     modules,
		Compression: initramfs.Compression(ir.Compression), ModTime: b.modTime,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("build initramfs: %w", err)
	}
	return b.dir.Path(name), b.describe("initramfs", name)
}

// initramfsModules is what the initramfs loads: the default early-boot
// drivers this kernel has (a kernel without USB storage still boots from
// disk), the essential filesystems, which it must have, and the operator's
// modules, which must exist too (the packer fails on those it cannot find).
func (b *pipeline) initramfsModules(k kernel.Kernel) ([]string, error) {
	present, absent, err := initramfs.Available(k, initramfs.DefaultModules)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, m := range absent {
		if slices.Contains(initramfs.EssentialModules, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("kernel %s cannot boot an appliance: it has neither a module nor a built-in for %s",
			k.Version, strings.Join(missing, ", "))
	}
	if len(absent) > 0 {
		b.log.Info("kernel lacks some default early-boot drivers; leaving them out", "kernel", k.Version, "modules", absent)
	}
	modules := append([]string{}, present...) // never nil: nil means "the defaults" to the packer
	return append(modules, b.site.OS.Initramfs.Modules...), nil
}

// writeOSImage streams the tree into tar2sqfs to make <name>.squashfs.
func (b *pipeline) writeOSImage(ctx context.Context, tree *rootfs.Tree) (string, error) {
	name := b.site.Metadata.Name + ".squashfs"
	b.log.Info("writing OS image", "entries", tree.Len())
	err := osimage.BuildFromTree(ctx, b.dir.Path(name), tree, osimage.Options{ModTime: b.modTime, Logger: b.log})
	if err != nil {
		return "", fmt.Errorf("OS image: %w", err)
	}
	return b.dir.Path(name), b.describe("os-image", name)
}

// bootloader returns the host path of the UEFI boot manager: the configured
// file, else systemd-boot from the base OS (copied to scratch space).
func (b *pipeline) bootloader(tree *rootfs.Tree) (string, error) {
	if p := b.site.OS.Bootloader.EFI; p != "" {
		if err := b.localInput("bootloader", p, ""); err != nil {
			return "", err
		}
		return p, nil
	}
	src, err := tree.Open(baseBootloaderPath)
	if err != nil {
		return "", fmt.Errorf("bootloader: the base OS has no /%s (install systemd-boot-efi in the base, or set os.bootloader.efi): %w", baseBootloaderPath, err)
	}
	defer src.Close()
	dir, err := b.scratchDir("bootloader")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "systemd-bootx64.efi")
	if err := writeStaged(dst, src); err != nil {
		return "", fmt.Errorf("bootloader: %w", err)
	}
	return dst, nil
}
