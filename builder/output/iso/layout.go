package iso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Paths inside the ISO, without the leading slash (xorriso graft points).
const (
	osImagePath  = "appliance/os.squashfs" // bootparam.ISOOSImagePath
	kernelPath   = "boot/vmlinuz"
	initrdPath   = "boot/initrd"
	efiImagePath = "boot/efi.img"
	isolinuxBin  = "isolinux/isolinux.bin"
	ldlinuxC32   = "isolinux/ldlinux.c32"
	isolinuxCfg  = "isolinux/isolinux.cfg"
	bootCatalog  = "isolinux/boot.cat"
)

// Paths inside the EFI image.
const (
	efiBootloaderPath = "EFI/BOOT/BOOTX64.EFI"
	efiLoaderConfPath = "loader/loader.conf"
	efiEntryPath      = "loader/entries/live.conf"
	efiKernelPath     = "live/vmlinuz"
	efiInitrdPath     = "live/initrd"
	// efiLabel is the EFI image's FAT volume label.
	efiLabel = "EFIBOOT"
)

// maxVolumeID is the length of the ISO 9660 volume identifier field.
const maxVolumeID = 32

// Layout describes a written ISO (the build report's details).
type Layout struct {
	// VolumeID is the ISO 9660 volume identifier the init looks for.
	VolumeID string `json:"volumeID"`
	// Cmdline is the kernel command line of both boot paths.
	Cmdline string `json:"cmdline"`
	// EFIImageSize is the size of the El Torito UEFI boot image in bytes.
	EFIImageSize int64 `json:"efiImageSize"`
	// GPTDiskGUID is the hybrid GPT's disk GUID, derived from the seed.
	GPTDiskGUID string `json:"gptDiskGUID"`
	// Install is the install target of an installer ISO.
	Install string `json:"install,omitempty"`
	// Payload is the image payload's path on the ISO
	// (bootparam.ISOPayloadPath), "" without one.
	Payload string `json:"payload,omitempty"`
}

// graft is one file of the ISO and the host file it comes from.
type graft struct {
	isoPath, source string
}

// VolumeID derives the ISO's volume identifier from the site's name: upper
// case, "-" spelled "_" (ISO 9660's d-characters), at most 32 characters.
func VolumeID(name string) string {
	id := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if len(id) > maxVolumeID {
		id = id[:maxVolumeID]
	}
	return id
}

// gptDiskGUID derives the hybrid GPT's disk GUID from the seed.
func gptDiskGUID(seed string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(seed+"\x00iso-gpt-disk-guid")).String()
}

// prepare writes isolinux.cfg and the EFI image into opts.WorkDir and
// returns the layout and the ISO's files, sorted by ISO path.
func prepare(ctx context.Context, in output.Inputs, opts Options) (Layout, []graft, error) {
	l := Layout{VolumeID: VolumeID(in.Name), GPTDiskGUID: gptDiskGUID(in.Seed)}
	if l.VolumeID == "" {
		return l, nil, fmt.Errorf("no volume ID: the site has no name")
	}
	cl, install, cerr := cmdline(in, opts, l.VolumeID)
	if cerr != nil {
		return l, nil, cerr
	}
	l.Cmdline, l.Install = cl, install
	var installGrafts []graft
	if opts.Install != nil {
		var err error
		if installGrafts, _, err = prepareInstall(ctx, in, opts.WorkDir); err != nil {
			return l, nil, err
		}
	}

	cfg := filepath.Join(opts.WorkDir, "isolinux.cfg")
	if err := os.WriteFile(cfg, []byte(isolinuxConfig(l.Cmdline)), 0o644); err != nil {
		return l, nil, fmt.Errorf("write isolinux.cfg: %w", err)
	}
	efi := filepath.Join(opts.WorkDir, "efi.img")
	var err error
	l.EFIImageSize, err = diskimage.WriteFATImage(efi, diskimage.FATImageOptions{
		Label: efiLabel, Seed: in.Seed + "\x00iso", Files: efiFiles(in, l.Cmdline), ModTime: in.ModTime,
	})
	if err != nil {
		return l, nil, fmt.Errorf("EFI boot image: %w", err)
	}
	grafts := []graft{
		{osImagePath, in.OSImage},
		{kernelPath, in.Kernel},
		{initrdPath, in.Initramfs},
		{efiImagePath, efi},
		{isolinuxBin, opts.Syslinux.IsolinuxBin},
		{ldlinuxC32, opts.Syslinux.LdlinuxC32},
		{isolinuxCfg, cfg},
	}
	grafts = append(grafts, installGrafts...)
	if in.Secrets != "" {
		grafts = append(grafts, graft{strings.TrimPrefix(bootparam.ISOSecretsPath, "/"), in.Secrets})
	}
	if in.Payload != "" {
		// It may be over 4 GiB: xorriso's -iso-level 3 stores it as a
		// multi-extent file (bigfile_test.go).
		grafts = append(grafts, graft{strings.TrimPrefix(bootparam.ISOPayloadPath, "/"), in.Payload})
		l.Payload = bootparam.ISOPayloadPath
	}
	slices.SortFunc(grafts, func(a, b graft) int { return strings.Compare(a.isoPath, b.isoPath) })
	if err := resolveGrafts(grafts); err != nil {
		return l, nil, err
	}
	return l, grafts, nil
}

// cmdline is the kernel command line of both boot paths, and the install
// target as it carries it. Every value is checked against its grammar
// first (isolinux.cfg and the loader entry are line-based; the title
// carries the name).
func cmdline(in output.Inputs, opts Options, volumeID string) (cmdline, install string, err error) {
	if err := in.CheckBootValues(); err != nil {
		return "", "", err
	}
	state := opts.State
	if state == "" {
		state = bootparam.StateTmpfs
	}
	if err := output.CheckLiveState(state); err != nil {
		return "", "", err
	}
	extra := in.Cmdline
	if opts.Install != nil {
		install = opts.Install.String()
		t, err := bootparam.ParseInstallTarget(install)
		if err != nil {
			return "", "", fmt.Errorf("install target: %w", err)
		}
		if t != *opts.Install {
			return "", "", fmt.Errorf("install target device %q, force %v: reads back as device %q, force %v",
				opts.Install.Device, opts.Install.Force, t.Device, t.Force)
		}
		extra = append(slices.Clone(extra), bootparam.ArgInstall+"="+install)
	}
	cmdline, err = output.KernelCmdline(bootparam.ISOSource(volumeID, "/"+osImagePath), state, "", extra)
	return cmdline, install, err
}

// isolinuxConfig boots the one entry at once, with no prompt.
func isolinuxConfig(cmdline string) string {
	return fmt.Sprintf("DEFAULT live\nPROMPT 0\nTIMEOUT 0\n\nLABEL live\n  KERNEL /%s\n  INITRD /%s\n  APPEND %s\n",
		kernelPath, initrdPath, cmdline)
}

// efiFiles is the EFI image's content: systemd-boot as the removable-media
// boot path, a loader.conf that boots the live entry at once, and the
// entry with its own kernel and initramfs.
func efiFiles(in output.Inputs, cmdline string) []diskimage.File {
	entry := fmt.Sprintf("title %s (live)\nversion %s\nlinux /%s\ninitrd /%s\noptions %s\n",
		in.Name, in.KernelVersion, efiKernelPath, efiInitrdPath, cmdline)
	return []diskimage.File{
		{Path: efiBootloaderPath, Source: in.Bootloader},
		{Path: efiLoaderConfPath, Data: []byte("default live.conf\ntimeout 0\neditor no\n")},
		{Path: efiEntryPath, Data: []byte(entry)},
		{Path: efiKernelPath, Source: in.Kernel},
		{Path: efiInitrdPath, Source: in.Initramfs},
	}
}
