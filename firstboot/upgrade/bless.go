package upgrade

import (
	"context"
	"fmt"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// trial checks the running slot, whose entry (name) is on trial, and
// blesses it or rejects it. other is the other slot's entry (nil: none).
func (env *CheckEnv) trial(ctx context.Context, esp BootEntries, st BootStatus, name bootslot.EntryName, other *bootslot.Installed) error {
	st.Running.State, st.Running.TriesLeft = StateTrial, name.Left
	env.record(st)
	env.printf("slot %s (%s) is on trial (%s): checking it", st.Running.Slot, orUnknown(st.Running.Release), triesLeft(name.Left))
	results, failure, err := env.runChecks(ctx)
	st.Checks = results
	if err != nil {
		return err
	}
	st.Updated = env.Now().UTC()
	if failure == "" {
		return env.bless(esp, st, name.Slot)
	}
	return env.reject(ctx, esp, st, name.Slot, failure, other)
}

// bless makes the running slot's entry boot from now on
// (systemd-bless-boot's "good": the counter dropped) and records it.
func (env *CheckEnv) bless(esp BootEntries, st BootStatus, s bootslot.Slot) error {
	if err := esp.Bless(s); err != nil {
		return fmt.Errorf("bless slot %s: %w", s.Name, err)
	}
	st.Running.State, st.Running.TriesLeft = StateBlessed, 0
	env.record(st)
	env.printf("slot %s (%s) passed its checks; blessed: it boots from now on", s.Name, orUnknown(st.Running.Release))
	return nil
}

// reject records why the running slot failed its checks (first, so the
// reason survives whatever follows; a record that cannot be written does
// not stop the fallback), marks its entry bad
// (systemd-bless-boot's "bad": no tries left, so systemd-boot sorts it
// last) and reboots into the other slot. With no other slot to boot it
// stays, and fails.
func (env *CheckEnv) reject(ctx context.Context, esp BootEntries, st BootStatus, s bootslot.Slot, reason string, other *bootslot.Installed) error {
	st.Running.State, st.Running.Reason, st.Running.TriesLeft = StateRejected, reason, 0
	env.record(st)
	if err := esp.MarkBad(s); err != nil {
		return fmt.Errorf("mark slot %s bad: %w", s.Name, err)
	}
	release := orUnknown(st.Running.Release)
	if other == nil || other.Name.Bad() || other.KernelMissing {
		env.printf("slot %s (%s) failed its checks: %s; marked bad, but slot %s has nothing bootable: staying on slot %s",
			s.Name, release, reason, s.Other().Name, s.Name)
		return fmt.Errorf("slot %s (%s) failed its checks: %s", s.Name, release, reason)
	}
	env.printf("slot %s (%s) failed its checks: %s; marked bad, rebooting into slot %s (%s)",
		s.Name, release, reason, st.Other.Slot, orUnknown(st.Other.Release))
	if env.Reboot == nil {
		env.printf("no reboot configured: reboot this node to run slot %s", st.Other.Slot)
		return nil
	}
	if err := env.Reboot(ctx); err != nil {
		return fmt.Errorf("reboot into slot %s: %w", st.Other.Slot, err)
	}
	return nil
}

// record writes the status `firstboot status` shows. It only reports:
// what the ESP says decides the next boot, and a full or broken STATE
// must not stop a bless or a fallback.
func (env *CheckEnv) record(st BootStatus) {
	if err := writeBootStatus(env.Root, st); err != nil {
		env.printf("warning: %v", err)
	}
}
