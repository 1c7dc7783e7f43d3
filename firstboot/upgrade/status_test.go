package upgrade

import (
	"context"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

func TestStatusLine(t *testing.T) {
	when := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		s    BootStatus
		want string
	}{
		{BootStatus{Running: SlotStatus{Slot: "b", Release: "2.0.0", State: StateBlessed}, Other: SlotStatus{Slot: "a", Release: "1.0.0", State: StateGood}},
			"release: 2.0.0 (slot b, blessed); slot a: 1.0.0"},
		{BootStatus{Running: SlotStatus{Slot: "a", Release: "2.0.0", State: StateGood},
			Other: SlotStatus{Slot: "b", Release: "3.0.0", State: StateRejected, Reason: "k3s.service is failed"}},
			"release: 2.0.0 (slot a); slot b: 3.0.0 rejected: k3s.service is failed"},
		{BootStatus{Running: SlotStatus{Slot: "b", Release: "3.0.0", State: StateTrial, TriesLeft: 2}, Other: SlotStatus{Slot: "a", Release: "2.0.0", State: StateGood}},
			"release: 3.0.0 (slot b, on trial: checks running, 2 tries left); slot a: 2.0.0"},
		{BootStatus{Running: SlotStatus{Slot: "b", Release: "3.0.0", State: StateRejected, Reason: "node node-1 not found"},
			Other: SlotStatus{Slot: "a", Release: "2.0.0", State: StateGood}},
			"release: 3.0.0 (slot b, rejected: node node-1 not found; falling back to slot a); slot a: 2.0.0"},
		{BootStatus{Running: SlotStatus{Slot: "a", Release: "1.0.0", State: StateGood}, Other: SlotStatus{Slot: "b", State: StateEmpty}},
			"release: 1.0.0 (slot a); slot b: empty"},
		{BootStatus{Running: SlotStatus{Slot: "a", Release: "1.0.0", State: StateGood}, Other: SlotStatus{Slot: "b", Release: "2.0.0", State: StateTrial, TriesLeft: 3}},
			"release: 1.0.0 (slot a); slot b: 2.0.0 boots next, on trial (3 tries left)"},
		{BootStatus{Running: SlotStatus{Release: "1.0.0"}}, "release: 1.0.0 (booted from the network or live: no A/B boot slots)"},
		{BootStatus{Running: SlotStatus{Slot: "b", Release: "3.0.0", State: StateTrial, TriesLeft: 1}, Other: SlotStatus{Slot: "a", Release: "2.0.0", State: StateGood},
			Updated: when, Earlier: true},
			"release: 3.0.0 (slot b, on trial, 1 try left); slot a: 2.0.0 [as of an earlier boot, 2025-06-01T12:00:00Z: the upgrade check has not run this boot yet]"},
		{BootStatus{Running: SlotStatus{Slot: "a"}, Other: SlotStatus{Slot: "b"}, Earlier: true},
			"release: (release unknown) (slot a) [the upgrade check has not run yet]"},
	} {
		if got := tc.s.Line(); got != tc.want {
			t.Errorf("Line() = %q\n want %q", got, tc.want)
		}
	}
}

// TestReadStatus: what `firstboot status` shows before the check ran, as
// the check left it, on a later boot, and after an upgrade was applied.
func TestReadStatus(t *testing.T) {
	n := newCheckNode(t)
	n.install(bootslot.A, "1.0.0", 1, bootslot.Blessed(bootslot.A))
	n.boot(bootslot.A, "1.0.0", "boot-1")
	line := func() string {
		t.Helper()
		s, err := ReadStatus(n.root)
		if err != nil {
			t.Fatal(err)
		}
		return s.Line()
	}
	if got, want := line(), "release: 1.0.0 (slot a) [the upgrade check has not run yet]"; got != want {
		t.Errorf("before the check: %q, want %q", got, want)
	}
	n.units.set(payload.UnitName, firstbootFinished)
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if got, want := line(), "release: 1.0.0 (slot a); slot b: empty"; got != want {
		t.Errorf("after the check: %q, want %q", got, want)
	}
	applied := n.now.Add(time.Minute)
	if err := writeApplied(n.root, Applied{Slot: "b", Release: checkRelease("2.0.0"), PreviousSlot: "a", Time: applied}); err != nil {
		t.Fatal(err)
	}
	if got, want := line(), "release: 1.0.0 (slot a); slot b: 2.0.0 boots next, on trial (3 tries left)"; got != want {
		t.Errorf("after apply: %q, want %q", got, want)
	}
	writeUnder(t, n.root, "proc/sys/kernel/random/boot_id", []byte("boot-2\n"))
	want := "release: 1.0.0 (slot a); slot b: 2.0.0 boots next, on trial (3 tries left) [as of an earlier boot, " +
		n.now.Format(time.RFC3339) + ": the upgrade check has not run this boot yet]"
	if got := line(); got != want {
		t.Errorf("next boot, before the check: %q, want %q", got, want)
	}
	writeUnder(t, n.root, "proc/cmdline", []byte("appliance.os=url:http://10.0.0.1/os.squashfs appliance.os.sha256=00\n"))
	if got, want := line(), "release: 1.0.0 (booted from the network or live: no A/B boot slots)"; got != want {
		t.Errorf("netbooted: %q, want %q", got, want)
	}
}
