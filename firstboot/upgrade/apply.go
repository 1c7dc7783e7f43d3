package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Options configures Apply.
type Options struct {
	// Bundle is where the bundle is: its directory, that directory's
	// manifest.json, or an http(s) URL of either.
	Bundle string
	// Root is the host's root directory (default "/").
	Root string
	// AllowDowngrade accepts a bundle older than the running release.
	AllowDowngrade bool
	// Out gets one line per step, and HTTP's retries unless HTTP.Logf is
	// set (default: none).
	Out io.Writer
	// HTTP configures reading a bundle over HTTP.
	HTTP HTTPOptions
	// Cmdline is the kernel command line ("" reads Root/proc/cmdline).
	Cmdline string
	// ESP is the mounted ESP to write (nil: MountESP, the ESP of the disk
	// the node booted from, unmounted when Apply returns).
	ESP ESPWriter
	// OpenPartition opens the target slot's partition (nil:
	// OpenSlotPartition under Root).
	OpenPartition func(running, target bootslot.Slot) (*SlotPartition, error)
	// Now is the clock of the record (default time.Now).
	Now func() time.Time
	// Reboot, when set, is called once the upgrade is recorded.
	Reboot func(context.Context) error

	// afterStep, in tests, runs after each step; its error stops Apply
	// there with nothing undone, as a power cut would.
	afterStep func(step string) error
}

// ESPWriter is what Apply needs of the mounted ESP (type ESP).
type ESPWriter interface {
	Installed() ([]bootslot.Installed, error)
	NextGeneration() (int, error)
	RemoveSlot(bootslot.Slot) error
	EnsureLoaderConf() error
	WriteSlotFile(rel string, r io.Reader, size int64, sha256 string) error
	InstallEntry(bootslot.Entry) error
	Free() (int64, error)
	SlotSize(bootslot.Slot) (int64, error)
}

// Apply applies the upgrade bundle opts.Bundle to the node: it checks the
// bundle (signature, site, cluster, version), writes the slot the node
// did not boot (its OS partition, then its kernel and initramfs on the
// ESP), puts the release's image payload on STATE when the node lacks
// it, and writes that slot's loader entry last, with systemd-boot boot
// counting (bootslot.Trial). Until that entry is written nothing can boot
// the slot, so a refusal, a failure or a power cut at any point leaves
// the node booting the slot it runs: the entry of the slot to write is
// removed first, and every file is verified before the entry names it.
// The record (AppliedPath) says what was applied.
func Apply(ctx context.Context, opts Options) (Applied, error) {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTP.Logf == nil {
		out := opts.Out
		opts.HTTP.Logf = func(format string, args ...any) { fmt.Fprintf(out, "firstboot: "+format+"\n", args...) }
	}
	a := &applier{opts: opts}
	defer a.close()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"bundle", a.readBundle},
		{"slot", a.findSlot},
		{"remove-entry", a.removeEntry},
		{"os-image", a.writeImage},
		{"boot-files", a.writeBootFiles},
		{"payload", a.putPayload},
		{"entry", a.installEntry},
		{"record", a.record},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return Applied{}, a.refusal(err)
		}
		if opts.afterStep != nil {
			if err := opts.afterStep(s.name); err != nil {
				return Applied{}, err
			}
		}
	}
	if opts.Reboot == nil {
		a.printf("reboot to start %s on slot %s", a.m.Release.Version, a.target.Name)
		return a.applied, nil
	}
	a.printf("rebooting into slot %s (%s)", a.target.Name, a.m.Release.Version)
	if err := opts.Reboot(ctx); err != nil {
		return a.applied, fmt.Errorf("upgrade applied, reboot failed (reboot by hand to start %s): %w", a.m.Release.Version, err)
	}
	return a.applied, nil
}

// applier holds what the steps of Apply learn.
type applier struct {
	opts    Options
	src     Source
	running upgradebundle.Release
	m       upgradebundle.Manifest

	slot, target bootslot.Slot
	esp          ESPWriter
	unmount      func() error
	part         *SlotPartition
	generation   int
	applied      Applied
}

func (a *applier) printf(format string, args ...any) {
	fmt.Fprintf(a.opts.Out, "firstboot: upgrade: "+format+"\n", args...)
}

// refusal is err as Apply returns it: what the node still boots.
func (a *applier) refusal(err error) error {
	if a.slot.Name == "" {
		return fmt.Errorf("upgrade not applied: %w", err)
	}
	return fmt.Errorf("upgrade not applied, slot %s (%s) still boots: %w", a.slot.Name, a.running.Version, err)
}

func (a *applier) close() {
	if a.part != nil {
		a.part.File.Close()
	}
	if a.src != nil {
		a.src.Close()
	}
	if a.unmount != nil {
		a.unmount()
	}
}

// ReadRelease returns the release the node at root runs
// (upgradebundle.ReleasePath in its OS image).
func ReadRelease(root string) (upgradebundle.Release, error) {
	data, err := readImageFile(root, upgradebundle.ReleasePath, upgradebundle.MaxReleaseSize)
	if err != nil {
		return upgradebundle.Release{}, err
	}
	r, err := upgradebundle.ParseRelease(data)
	if err != nil {
		return upgradebundle.Release{}, fmt.Errorf("%s: %w", upgradebundle.ReleasePath, err)
	}
	return r, nil
}

// maxPublicKey bounds the public key's PEM file.
const maxPublicKey = 4 << 10

// readImageFile reads a file the OS image carries; a missing one means
// the image predates upgrades.
func readImageFile(root, path string, max int64) ([]byte, error) {
	data, err := smallfile.Read(filepath.Join(root, path), max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("this node's OS image has no %s: it predates upgrades (reflash it once with a newer build)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, smallfile.Cause(err))
	}
	return data, nil
}
