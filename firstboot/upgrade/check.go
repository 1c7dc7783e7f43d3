package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// BootEntries is what the boot check needs of the mounted ESP (type ESP,
// esp.go): the appliance's loader entries, and the renames that bless a
// slot's entry or mark it bad.
type BootEntries interface {
	Installed() ([]bootslot.Installed, error)
	Bless(bootslot.Slot) error
	MarkBad(bootslot.Slot) error
}

// CheckEnv is the host Check runs on and how it acts there.
type CheckEnv struct {
	// Root is the host root ("/"); every path is taken under it.
	Root string
	// Out gets the "firstboot: upgrade: " lines (the console).
	Out io.Writer
	// Now is the record's clock (default time.Now).
	Now func() time.Time
	// OpenESP returns the ESP of the disk the running slot is on and a
	// func that releases it (default: MountESP).
	OpenESP func(running bootslot.Slot) (BootEntries, func() error, error)
	// Units reads unit states (default Systemctl).
	Units Units
	// KubeConfig reads a kubeconfig file (default clientcmd's loader).
	KubeConfig func(path string) (*rest.Config, error)
	// Reboot reboots the node into the other slot after a failed check;
	// nil leaves the reboot to the operator (and says so).
	Reboot func(ctx context.Context) error
	// Sleep waits between polls (default ctxsleep.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error
	// Timeouts bound the checks; zero values take the defaults.
	Timeouts CheckTimeouts
}

func (env *CheckEnv) defaults() {
	if env.Root == "" {
		env.Root = "/"
	}
	if env.Out == nil {
		env.Out = io.Discard
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.OpenESP == nil {
		env.OpenESP = func(running bootslot.Slot) (BootEntries, func() error, error) {
			esp, unmount, err := MountESP(env.Root, running)
			if err != nil {
				return nil, nil, err
			}
			return esp, unmount, nil
		}
	}
	if env.Units == nil {
		env.Units = Systemctl{}
	}
	if env.KubeConfig == nil {
		env.KubeConfig = func(path string) (*rest.Config, error) { return clientcmd.BuildConfigFromFlags("", path) }
	}
	if env.Sleep == nil {
		env.Sleep = ctxsleep.Sleep
	}
	env.Timeouts = env.Timeouts.withDefaults()
}

func (env *CheckEnv) printf(format string, args ...any) {
	fmt.Fprintf(env.Out, "firstboot: upgrade: "+format+"\n", args...)
}

// Check is the boot check of an A/B upgrade, run at every boot of a node
// booted from a disk slot (appliance.slot on its kernel command line;
// a node booted from the network or live has nothing to check), once
// firstboot has finished (appliance-upgrade-check.service); it waits for
// K3s and the platform itself.
//
// When the slot it runs has a loader entry on trial (systemd-boot boot
// counting: an upgrade wrote it, Apply), it runs the checks (firstboot
// reached done this boot, the role's K3s unit is active, the node is
// Ready, on the initial server the platform came up), each bounded by its
// timeout, and then either blesses the entry (it boots from now on) or
// records why it failed, marks the entry bad and reboots into the other
// slot. Otherwise it says which release runs and, when the other slot's
// entry is bad, why that slot was rejected. Either way it records what
// `firstboot status` shows (BootStatusPath).
func Check(ctx context.Context, env *CheckEnv) error {
	env.defaults()
	cmdline, err := readCmdline(env.Root)
	if err != nil {
		return err
	}
	if _, ok := bootparam.ParseCmdline(cmdline)[bootparam.ArgSlot]; !ok {
		env.printf("not booted from a disk slot (booted from the network or live): nothing to check")
		return nil
	}
	running, err := BootedSlot(cmdline)
	if err != nil {
		return err
	}
	release := ""
	if r, err := ReadRelease(env.Root); err != nil {
		env.printf("warning: %v", err)
	} else {
		release = r.Version
	}
	bootID, err := readBootID(env.Root)
	if err != nil {
		return err
	}
	esp, unmount, err := env.OpenESP(running)
	if err != nil {
		return err
	}
	defer func() {
		if err := unmount(); err != nil {
			env.printf("warning: %v", err)
		}
	}()
	entries, err := esp.Installed()
	if err != nil {
		return err
	}
	cur, other := findEntry(entries, running), findEntry(entries, running.Other())
	prev, err := readBootStatus(env.Root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		env.printf("warning: %v", err)
	}
	st := BootStatus{Updated: env.Now().UTC(), BootID: bootID,
		Running: SlotStatus{Slot: running.Name, Release: release},
		Other:   otherStatus(running.Other(), other, prev)}
	if started, err := ReadStarted(env.Root); err == nil && other == nil && started.Slot == st.Other.Slot {
		st.Other.Reason = started.Interrupted()
	}
	if cur != nil && cur.Name.Counting {
		return env.trial(ctx, esp, st, cur.Name, other)
	}
	st.Running.State = StateGood
	if a, err := ReadApplied(env.Root); err == nil && a.Slot == running.Name {
		st.Running.State = StateBlessed
	}
	if cur == nil {
		env.printf("warning: slot %s, which this node runs, has no loader entry on the ESP", running.Name)
	}
	env.record(st)
	if o := st.Other; o.State == StateRejected {
		env.printf("running %s in slot %s; %s in slot %s was rejected: %s", orUnknown(release), running.Name, orUnknown(o.Release), o.Slot, o.Reason)
		return nil
	}
	env.printf("%s; nothing to check", st.Line())
	return nil
}

// findEntry returns s's appliance entry, nil when it has none.
func findEntry(entries []bootslot.Installed, s bootslot.Slot) *bootslot.Installed {
	for i := range entries {
		if entries[i].Name.Slot == s {
			return &entries[i]
		}
	}
	return nil
}

// otherStatus is what the slot the node does not run holds: its entry's
// release and state; for a rejected slot, the reason the record of an
// earlier boot gives, else what its boot counter says.
func otherStatus(s bootslot.Slot, e *bootslot.Installed, prev BootStatus) SlotStatus {
	if e == nil {
		return SlotStatus{Slot: s.Name, State: StateEmpty}
	}
	st := SlotStatus{Slot: s.Name, Release: e.Entry.Release, State: StateGood}
	switch {
	case e.Name.Bad():
		st.State, st.Reason = StateRejected, rejectReason(s, e, prev)
	case e.Name.Counting:
		st.State, st.TriesLeft = StateTrial, e.Name.Left
	}
	return st
}

// rejectReason says why slot s's bad entry e was rejected: the reason an
// earlier boot recorded for the same release, else what the counter says
// (systemd-boot counted the tries down; a check marks bad with tries
// made below bootslot.Tries).
func rejectReason(s bootslot.Slot, e *bootslot.Installed, prev BootStatus) string {
	for _, r := range []SlotStatus{prev.Running, prev.Other} {
		if r.Slot != s.Name || r.Release != e.Entry.Release {
			continue
		}
		switch r.State {
		case StateRejected:
			return r.Reason
		case StateTrial:
			if prev.Running.Slot == s.Name {
				return fmt.Sprintf("its boot checks did not finish in %d tries", e.Name.Done)
			}
		}
	}
	if e.Name.Done >= bootslot.Tries {
		return fmt.Sprintf("it did not boot in %d tries", e.Name.Done)
	}
	return "it was marked bad (no reason recorded)"
}
