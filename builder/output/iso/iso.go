// Package iso is the hybrid ISO output: one image that boots live as a CD
// or DVD and, written to a USB stick with dd, as a disk, under BIOS and
// UEFI alike.
//
// Layout of <name>.iso:
//
//	/appliance/os.squashfs   the OS image, loop-mounted by the init
//	/appliance/payload.tar   the image payload, when the build has one
//	                         (bootparam.ISOPayloadPath): a live node serves
//	                         it from bootparam.ISOMount, where the init
//	                         leaves the ISO mounted; an install writes it to
//	                         the PAYLOAD partition
//	/boot/vmlinuz            kernel and initramfs for BIOS (isolinux)
//	/boot/initrd
//	/boot/efi.img            FAT image for UEFI: systemd-boot as
//	                         EFI/BOOT/BOOTX64.EFI, one loader entry and its
//	                         own copy of kernel and initramfs (systemd-boot
//	                         reads only the FAT it was started from)
//	/isolinux/               isolinux.bin, ldlinux.c32, isolinux.cfg, boot.cat
//
// El Torito has two entries: isolinux for BIOS and the FAT image for UEFI.
// An isohybrid MBR (syslinux's isohdpfx.bin) and a GPT that marks the FAT
// image as a partition make the same bytes boot from a USB stick. Both
// boot paths start the kernel with appliance.os=ISO=<volume id>:<path>
// (package bootparam): the init finds the ISO 9660 volume by its volume ID,
// loop-mounts the OS image from it and keeps state in RAM.
//
// The image is made by xorriso (`xorriso -as mkisofs`), not go-diskfs,
// which the raw disk uses for GPT and FAT: go-diskfs v1.9.4's ISO 9660
// writer has no multi-extent files, so it cannot store a file of 4 GiB or
// more (an OS image with the platform's container images easily is one),
// and it writes no hybrid MBR/GPT. xorriso writes ISO level 3 (multi-extent
// files), Rock Ridge, El Torito for BIOS and UEFI and the isohybrid MBR and
// GPT, the way Debian's own installer and live images are made. The ISO is
// reproducible: every timestamp comes from Inputs.ModTime (xorriso's
// --modification-date, --set_all_file_dates and SOURCE_DATE_EPOCH), the
// GPT disk GUID from the site's seed, and the files are grafted in a fixed
// order.
package iso

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/doctor"
	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/report"
)

// Format writes <name>.iso.
type Format struct{ opts FormatOptions }

// FormatOptions are the site's choices for the ISO.
type FormatOptions struct {
	// Install, when set, makes an installer that writes the raw disk
	// layout to this target (see install.go) and boots live when it
	// does not.
	Install *Install
	// State is the appliance.state value of a live boot: tmpfs ("" means
	// it) or a state disk (bootparam.StateDiskPrefix).
	State string
}

// New returns the ISO format.
func New(opts FormatOptions) *Format { return &Format{opts: opts} }

// Name implements output.Format.
func (*Format) Name() string { return "iso" }

// Build implements output.Format.
func (f *Format) Build(ctx context.Context, in output.Inputs, dir *outdir.Dir) ([]report.Artifact, error) {
	scratch, err := dir.Scratch()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(scratch, "iso-")
	if err != nil {
		return nil, fmt.Errorf("iso work directory: %w", err)
	}
	defer os.RemoveAll(work)
	name := in.Name + ".iso"
	layout, err := Write(ctx, dir.Path(name), in, Options{WorkDir: work, Install: f.opts.Install, State: f.opts.State})
	if err != nil {
		return nil, err
	}
	a, err := output.DescribeSecret("iso", dir.Path(name), name, in.Secrets != "")
	if err != nil {
		return nil, err
	}
	a.Details = layout
	return []report.Artifact{a}, nil
}

// Options are where Write finds what is not in output.Inputs.
type Options struct {
	// WorkDir receives the intermediate files (isolinux.cfg, the EFI
	// image). Required.
	WorkDir string
	// Syslinux locates the BIOS boot files; the zero value means Debian's.
	Syslinux Syslinux
	// Install, when set, makes an installer ISO that writes the raw disk
	// layout to this target.
	Install *Install
	// State is the appliance.state value of a live boot; "" means tmpfs.
	State string
}

// Syslinux are the host paths of the isolinux files (Debian packages
// isolinux and syslinux-common).
type Syslinux struct {
	// IsolinuxBin is the El Torito BIOS boot image.
	IsolinuxBin string
	// LdlinuxC32 is the isolinux core module isolinux.bin loads.
	LdlinuxC32 string
	// HybridMBR is the MBR that boots isolinux from a USB stick.
	HybridMBR string
}

// DebianSyslinux are the paths Debian's isolinux and syslinux-common use.
var DebianSyslinux = Syslinux{
	IsolinuxBin: "/usr/lib/ISOLINUX/isolinux.bin",
	LdlinuxC32:  "/usr/lib/syslinux/modules/bios/ldlinux.c32",
	HybridMBR:   "/usr/lib/ISOLINUX/isohdpfx.bin",
}

// HostTools are the host programs and files an ISO build needs (files
// by absolute path, as package doctor checks them).
func HostTools() []doctor.Tool {
	return []doctor.Tool{
		{Command: xorrisoCommand, Package: "xorriso", Purpose: "make the ISO image"},
		{Command: DebianSyslinux.IsolinuxBin, Package: "isolinux", Purpose: "BIOS boot of the ISO"},
		{Command: DebianSyslinux.HybridMBR, Package: "isolinux", Purpose: "BIOS boot of the ISO from a USB stick"},
		{Command: DebianSyslinux.LdlinuxC32, Package: "syslinux-common", Purpose: "BIOS boot of the ISO (isolinux core)"},
	}
}

// Write makes the ISO at path from in. It writes to a temporary name beside
// path and renames it when xorriso succeeded, so a failed build leaves no
// half-written ISO under path.
func Write(ctx context.Context, path string, in output.Inputs, opts Options) (Layout, error) {
	if opts.Syslinux == (Syslinux{}) {
		opts.Syslinux = DebianSyslinux
	}
	for _, p := range []string{opts.Syslinux.IsolinuxBin, opts.Syslinux.LdlinuxC32, opts.Syslinux.HybridMBR} {
		if _, err := os.Stat(p); err != nil {
			return Layout{}, fmt.Errorf("iso: BIOS boot file (apt-get install isolinux syslinux-common): %w", err)
		}
	}
	layout, grafts, err := prepare(ctx, in, opts)
	if err != nil {
		return Layout{}, fmt.Errorf("iso: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial")
	if err := runXorriso(ctx, tmp, layout, opts.Syslinux, grafts, in.ModTime); err != nil {
		return Layout{}, errors.Join(fmt.Errorf("iso: %w", err), removeIfExists(tmp))
	}
	if err := os.Rename(tmp, path); err != nil {
		return Layout{}, errors.Join(fmt.Errorf("iso: %w", err), removeIfExists(tmp))
	}
	return layout, nil
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
