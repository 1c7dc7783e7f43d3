package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// The steps of Apply, in their order. Each changes nothing another step
// relies on for the running slot to keep booting.

// readBundle reads the running release and the site's public key from the
// OS image, then the bundle's manifest, and accepts it or not.
func (a *applier) readBundle(ctx context.Context) error {
	v, err := openVerified(ctx, a.opts.Root, a.opts.Bundle, a.opts.HTTP, a.opts.AllowDowngrade)
	if err != nil {
		return err
	}
	a.src, a.m, a.running = v.src, v.m, v.running
	a.printf("bundle %s: %s %s (kernel %s), signed with this site's key; this node runs %s", a.src, a.m.Release.Site, a.m.Release.Version, a.m.Release.KernelVersion, a.running.Version)
	return nil
}

// findSlot finds the slot the node booted and opens the other one's
// partition; it refuses an image that does not fit, an ESP without room
// for the kernel and initramfs, and a node whose running slot is itself
// still on trial (writing the other slot would leave no slot known good).
func (a *applier) findSlot(_ context.Context) error {
	cmdline := a.opts.Cmdline
	if cmdline == "" {
		var err error
		if cmdline, err = readCmdline(a.opts.Root); err != nil {
			return err
		}
	}
	slot, err := BootedSlot(cmdline)
	if err != nil {
		return err
	}
	a.slot, a.target = slot, slot.Other()
	if _, err := bootslot.Options(a.target, a.m.Cmdline); err != nil {
		return err
	}
	if err := a.openESP(); err != nil {
		return err
	}
	if err := a.checkRunningBlessed(); err != nil {
		return err
	}
	open := a.opts.OpenPartition
	if open == nil {
		open = func(running, target bootslot.Slot) (*SlotPartition, error) {
			return OpenSlotPartition(a.opts.Root, running, target)
		}
	}
	if a.part, err = open(a.slot, a.target); err != nil {
		return err
	}
	if err := checkFits(a.part, a.target, a.m.OSImage); err != nil {
		return err
	}
	free, err := a.checkESPRoom()
	if err != nil {
		return err
	}
	a.printf("slot %s is %s (%s), the image %s; the ESP has %s for its kernel and initramfs (%s)", a.target.Name, a.part.Path, humanSize(a.part.Size),
		humanSize(a.m.OSImage.Size), humanSize(free), humanSize(a.m.Kernel.Size+a.m.Initrd.Size))
	return nil
}

// checkRunningBlessed refuses while the running slot's entry still counts
// its tries (its boot check has not blessed it yet) or was marked bad:
// the other slot, which the apply overwrites, is then the only one known
// good.
func (a *applier) checkRunningBlessed() error {
	installed, err := a.esp.Installed()
	if err != nil {
		return err
	}
	for _, e := range installed {
		switch {
		case e.Name.Slot != a.slot || !e.Name.Counting:
		case e.Name.Bad():
			return fmt.Errorf("slot %s, which runs, was rejected (%s): reboot into slot %s before applying an upgrade", a.slot.Name, e.File, a.target.Name)
		default:
			return fmt.Errorf("slot %s runs on trial (%s): wait until its boot check blesses it (firstboot status) before applying another upgrade", a.slot.Name, e.File)
		}
	}
	return nil
}

// removeEntry removes the target slot's loader entry, so that nothing
// boots the slot while it is written, and makes sure loader.conf is the
// appliance's.
func (a *applier) removeEntry(_ context.Context) error {
	started := Started{Slot: a.target.Name, Release: a.m.Release.Version, Source: a.src.String(), Time: a.opts.Now().UTC()}
	if err := writeRecord(a.opts.Root, StartedPath, "apply-started record", started); err != nil {
		return err
	}
	if err := a.esp.RemoveSlot(a.target); err != nil {
		return err
	}
	if err := a.esp.EnsureLoaderConf(); err != nil {
		return err
	}
	a.printf("slot %s's loader entry removed: nothing boots slot %s while it is written", a.target.Name, a.target.Name)
	return nil
}

// writeImage streams the OS image into the target partition and reads it
// back.
func (a *applier) writeImage(ctx context.Context) error {
	r, err := a.src.Open(ctx, a.m.OSImage)
	if err != nil {
		return err
	}
	defer r.Close()
	a.printf("writing slot %s (%s, %s) ...", a.target.Name, a.m.Release.Version, humanSize(a.m.OSImage.Size))
	start := time.Now()
	if err := writeSlotImage(a.part, a.target, r, a.m.OSImage); err != nil {
		return err
	}
	a.printf("slot %s written and read back, sha256 verified (%.1f s)", a.target.Name, time.Since(start).Seconds())
	return nil
}

// writeBootFiles writes the target slot's kernel and initramfs to the ESP.
func (a *applier) writeBootFiles(ctx context.Context) error {
	files := []struct {
		path string
		f    upgradebundle.File
	}{{a.target.KernelPath(), a.m.Kernel}, {a.target.InitrdPath(), a.m.Initrd}}
	for _, file := range files {
		r, err := a.src.Open(ctx, file.f)
		if err != nil {
			return err
		}
		err = a.esp.WriteSlotFile(file.path, r, file.f.Size, file.f.SHA256)
		r.Close()
		if err != nil {
			return err
		}
	}
	a.printf("slot %s's kernel (%s) and initramfs (%s) written to the ESP, sha256 verified", a.target.Name, humanSize(a.m.Kernel.Size), humanSize(a.m.Initrd.Size))
	return nil
}

// putPayload puts the release's image payload on STATE when the node
// lacks it.
func (a *applier) putPayload(ctx context.Context) error {
	note, err := putPayload(ctx, a.opts.Root, a.src, a.m)
	if err != nil {
		return err
	}
	a.printf("%s", note)
	return nil
}

// installEntry writes the target slot's loader entry, on trial: from now
// on the firmware boots the new slot, up to bootslot.Tries times.
func (a *applier) installEntry(_ context.Context) error {
	gen, err := a.esp.NextGeneration()
	if err != nil {
		return err
	}
	options, err := bootslot.Options(a.target, a.m.Cmdline)
	if err != nil {
		return err
	}
	e := bootslot.Entry{
		Slot:          a.target,
		Site:          a.m.Release.Site,
		Release:       a.m.Release.Version,
		Generation:    gen,
		KernelVersion: a.m.Release.KernelVersion,
		Options:       options,
	}
	if err := a.esp.InstallEntry(e); err != nil {
		return err
	}
	a.generation = gen
	a.printf("loader entry %s written: the next boot tries slot %s (%s) up to %d times, then falls back to slot %s (%s)",
		bootslot.Trial(a.target).File(), a.target.Name, a.m.Release.Version, bootslot.Tries, a.slot.Name, a.running.Version)
	return nil
}

// record writes what was applied on STATE.
func (a *applier) record(_ context.Context) error {
	a.applied = Applied{
		Slot:            a.target.Name,
		Release:         a.m.Release,
		Generation:      a.generation,
		Entry:           bootslot.Trial(a.target).File(),
		PreviousSlot:    a.slot.Name,
		PreviousRelease: a.running,
		Source:          a.src.String(),
		Time:            a.opts.Now().UTC(),
	}
	if err := writeApplied(a.opts.Root, a.applied); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(a.opts.Root, StartedPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("apply-started record: %w", err)
	}
	a.printf("recorded in %s", AppliedPath)
	return nil
}
