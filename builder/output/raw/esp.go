package raw

import (
	"fmt"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Paths inside the EFI system partition.
const (
	bootloaderPath = "EFI/BOOT/BOOTX64.EFI"
	loaderConfPath = "loader/loader.conf"
)

// slot is one A/B boot slot.
type slot struct {
	name  string // "a" or "b"
	label string // GPT label of its OS partition
}

var slots = []slot{{"a", bootparam.LabelOSA}, {"b", bootparam.LabelOSB}}

func kernelPath(s slot) string    { return "appliance/" + s.name + "/vmlinuz" }
func initramfsPath(s slot) string { return "appliance/" + s.name + "/initrd.img" }
func entryPath(s slot) string     { return "loader/entries/appliance-" + s.name + ".conf" }

// ESPFiles lists the EFI system partition's content: systemd-boot as the
// removable-media boot path, a loader.conf that boots slot A at once, one
// loader entry per slot, and slot A's kernel and initramfs. Slot B's entry
// names files an upgrade writes; until then systemd-boot cannot start it,
// and slot A stays the default. Values outside their grammar
// (output.Inputs.CheckBootValues, output.KernelCmdline) are refused: a
// loader entry is line-based, so a line break in one would add a line.
func ESPFiles(in output.Inputs) ([]diskimage.File, error) {
	if err := in.CheckBootValues(); err != nil {
		return nil, fmt.Errorf("loader entries: %w", err)
	}
	files := []diskimage.File{
		{Path: bootloaderPath, Source: in.Bootloader},
		{Path: loaderConfPath, Data: []byte(loaderConf(slots[0]))},
		{Path: kernelPath(slots[0]), Source: in.Kernel},
		{Path: initramfsPath(slots[0]), Source: in.Initramfs},
	}
	for _, s := range slots {
		entry, err := loaderEntry(in, s)
		if err != nil {
			return nil, fmt.Errorf("loader entry of slot %s: %w", s.name, err)
		}
		files = append(files, diskimage.File{Path: entryPath(s), Data: []byte(entry)})
	}
	return files, nil
}

func loaderConf(def slot) string {
	// timeout 0 boots the default entry at once; holding a key shows the menu.
	return fmt.Sprintf("default appliance-%s.conf\ntimeout 0\neditor no\n", def.name)
}

func loaderEntry(in output.Inputs, s slot) (string, error) {
	cmdline, err := output.KernelCmdline("PARTLABEL="+s.label, "PARTLABEL="+bootparam.LabelState, s.name, in.Cmdline)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("title %s (slot %s)\nversion %s\nlinux /%s\ninitrd /%s\noptions %s\n",
		in.Name, s.name, in.KernelVersion, kernelPath(s), initramfsPath(s), cmdline), nil
}
