package raw

import (
	"fmt"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// firstGeneration is slot A's generation on a new disk: an upgrade's
// entry gets a higher one, so systemd-boot sorts it first
// (firstboot/bootslot).
const firstGeneration = 1

// ESPFiles lists the EFI system partition's content in the A/B layout of
// firstboot/bootslot: systemd-boot as the removable-media boot path,
// bootslot.LoaderConf, and slot A's kernel, initramfs and blessed loader
// entry (no boot counter: a new disk has nothing to fall back to) at
// firstGeneration. Slot B has no files and no entry until an upgrade
// writes them. Values outside their grammar (output.Inputs.CheckBootValues,
// bootslot.Options, bootslot.Entry.Render) are refused: a loader entry is
// line-based, so a line break in one would add a line.
func ESPFiles(in output.Inputs) ([]diskimage.File, error) {
	if err := in.CheckBootValues(); err != nil {
		return nil, fmt.Errorf("loader entries: %w", err)
	}
	slot := bootslot.A
	options, err := bootslot.Options(slot, in.Cmdline)
	if err != nil {
		return nil, fmt.Errorf("loader entry of slot %s: %w", slot.Name, err)
	}
	release := in.Release
	if release == "" {
		release = upgradebundle.DefaultVersion
	}
	entry, err := bootslot.Entry{
		Slot: slot, Site: in.Name, Release: release, Generation: firstGeneration,
		KernelVersion: in.KernelVersion, Options: options,
	}.Render()
	if err != nil {
		return nil, err
	}
	return []diskimage.File{
		{Path: bootslot.BootloaderPath, Source: in.Bootloader},
		{Path: bootslot.LoaderConfPath, Data: []byte(bootslot.LoaderConf())},
		{Path: slot.KernelPath(), Source: in.Kernel},
		{Path: slot.InitrdPath(), Source: in.Initramfs},
		{Path: bootslot.EntriesDir + "/" + bootslot.Blessed(slot).File(), Data: entry},
	}, nil
}
