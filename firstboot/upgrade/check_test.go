package upgrade

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// onTrial is the name systemd-boot leaves on a newly written entry as it
// boots it the first time: appliance-<slot>+2-1.conf.
func onTrial(s bootslot.Slot) bootslot.EntryName { return bootslot.Trial(s).Bumped() }

// upgradedNode is a node that ran 2.0.0 in slot a, had 3.0.0 applied to
// slot b and booted it once.
func upgradedNode(t *testing.T) *checkNode {
	n := newCheckNode(t)
	n.install(bootslot.A, "2.0.0", 1, bootslot.Blessed(bootslot.A))
	n.install(bootslot.B, "3.0.0", 2, onTrial(bootslot.B))
	n.boot(bootslot.B, "3.0.0", "boot-1")
	return n
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("console lacks line %q:\n%s", l, out)
		}
	}
}

// TestCheckBlesses: a slot on trial whose checks pass (an image without
// K3s: firstboot's only) is blessed, and systemd-boot keeps booting it.
func TestCheckBlesses(t *testing.T) {
	n := upgradedNode(t)
	n.units.set(payload.UnitName, firstbootFinished)
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if got, want := n.entries(), []string{"appliance-a.conf", "appliance-b.conf"}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	if n.boots() != "b" || n.reboots != 0 {
		t.Errorf("boots %s next after %d reboots, want b and none", n.boots(), n.reboots)
	}
	wantLines(t, n.out.String(),
		"firstboot: upgrade: slot b (3.0.0) is on trial (2 tries left): checking it",
		"firstboot: upgrade: check firstboot: ok: firstboot.service finished: firstboot reached done this boot",
		"firstboot: upgrade: slot b (3.0.0) passed its checks; blessed: it boots from now on")
	rec := n.record()
	if rec.Running != (SlotStatus{Slot: "b", Release: "3.0.0", State: StateBlessed}) || rec.Other != (SlotStatus{Slot: "a", Release: "2.0.0", State: StateGood}) {
		t.Errorf("record %+v", rec)
	}
	if len(rec.Checks) != 1 || !rec.Checks[0].OK || rec.BootID != "boot-1" {
		t.Errorf("record checks %+v, boot %q", rec.Checks, rec.BootID)
	}
}

// TestCheckRejectsThenSaysWhy: a slot on trial whose K3s keeps failing is
// marked bad and the node reboots; systemd-boot then boots the other
// slot, whose boot says why the upgrade was rejected.
func TestCheckRejectsThenSaysWhy(t *testing.T) {
	n := upgradedNode(t)
	n.withK3s("server", "node-1", false)
	n.units.set(payload.UnitName, firstbootFinished)
	n.units.set(payload.K3sServerUnit, k3sCrashLooping)
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	reason := "k3s.service is failed (result exit-code, restarted 3 times)"
	if got, want := n.entries(), []string{"appliance-a.conf", "appliance-b+0-1.conf"}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	if n.boots() != "a" || n.reboots != 1 {
		t.Errorf("boots %s next after %d reboots, want a after 1", n.boots(), n.reboots)
	}
	wantLines(t, n.out.String(),
		"firstboot: upgrade: check k3s: failed: "+reason,
		"firstboot: upgrade: slot b (3.0.0) failed its checks: "+reason+"; marked bad, rebooting into slot a (2.0.0)")
	if rec := n.record(); rec.Running != (SlotStatus{Slot: "b", Release: "3.0.0", State: StateRejected, Reason: reason}) {
		t.Errorf("record %+v", rec)
	}

	// The next boot runs slot a.
	n.out.Reset()
	n.boot(bootslot.A, "2.0.0", "boot-2")
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if got := n.out.String(); got != "firstboot: upgrade: running 2.0.0 in slot a; 3.0.0 in slot b was rejected: "+reason+"\n" {
		t.Errorf("console after the fallback:\n%s", got)
	}
	if got, want := n.entries(), []string{"appliance-a.conf", "appliance-b+0-1.conf"}; !reflect.DeepEqual(got, want) || n.reboots != 1 {
		t.Errorf("entries %v after %d reboots, want %v after 1", got, n.reboots, want)
	}
	st, err := ReadStatus(n.root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Line(), "release: 2.0.0 (slot a); slot b: 3.0.0 rejected: "+reason; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}
}

// TestCheckDidNotBoot: a slot systemd-boot counted down to no tries left
// (it never reached the check) is rejected for that.
func TestCheckDidNotBoot(t *testing.T) {
	n := newCheckNode(t)
	n.install(bootslot.A, "2.0.0", 1, bootslot.Blessed(bootslot.A))
	n.install(bootslot.B, "3.0.0", 2, bootslot.EntryName{Slot: bootslot.B, Counting: true, Left: 0, Done: 3})
	n.boot(bootslot.A, "2.0.0", "boot-4")
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if got := n.out.String(); got != "firstboot: upgrade: running 2.0.0 in slot a; 3.0.0 in slot b was rejected: it did not boot in 3 tries\n" {
		t.Errorf("console:\n%s", got)
	}
	if len(n.units.asked) != 0 {
		t.Errorf("asked systemd about %v on a boot with nothing on trial", n.units.asked)
	}
}

// TestCheckNotOnTrial: a blessed slot is left as it is: no check runs,
// the record says what runs.
func TestCheckNotOnTrial(t *testing.T) {
	n := newCheckNode(t)
	n.install(bootslot.A, "1.0.0", 1, bootslot.Blessed(bootslot.A))
	n.install(bootslot.B, "2.0.0", 2, bootslot.Blessed(bootslot.B))
	n.boot(bootslot.B, "2.0.0", "boot-7")
	if err := writeApplied(n.root, Applied{Slot: "b", Release: checkRelease("2.0.0"), PreviousSlot: "a", Time: n.now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before := n.entries()
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if got := n.entries(); !reflect.DeepEqual(got, before) || n.reboots != 0 || len(n.units.asked) != 0 {
		t.Errorf("entries %v (were %v), %d reboots, asked %v: want no change", got, before, n.reboots, n.units.asked)
	}
	if got := n.out.String(); got != "firstboot: upgrade: release: 2.0.0 (slot b, blessed); slot a: 1.0.0; nothing to check\n" {
		t.Errorf("console:\n%s", got)
	}
}

// TestCheckNotDiskBooted: a node booted from the network has no slot and
// nothing to check; the ESP is not looked at.
func TestCheckNotDiskBooted(t *testing.T) {
	n := newCheckNode(t)
	writeUnder(t, n.root, "proc/cmdline", []byte("appliance.os=url:http://10.0.0.1/os.squashfs appliance.os.sha256=00\n"))
	env := n.env()
	env.OpenESP = func(bootslot.Slot) (BootEntries, func() error, error) {
		t.Fatal("opened the ESP of a netbooted node")
		return nil, nil, nil
	}
	if err := Check(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := n.out.String(); got != "firstboot: upgrade: not booted from a disk slot (booted from the network or live): nothing to check\n" {
		t.Errorf("console:\n%s", got)
	}
}

// TestCheckNoFallback: a slot on trial that fails with no other slot to
// boot is marked bad, but the node stays and the check fails.
func TestCheckNoFallback(t *testing.T) {
	n := newCheckNode(t)
	n.install(bootslot.B, "3.0.0", 2, onTrial(bootslot.B))
	n.boot(bootslot.B, "3.0.0", "boot-1")
	n.units.set(payload.UnitName, UnitState{ActiveState: "failed", SubState: "failed", Result: "exit-code", Started: true})
	err := Check(context.Background(), n.env())
	if err == nil || !strings.Contains(err.Error(), "firstboot.service is failed (result exit-code)") {
		t.Errorf("Check: %v, want the failed check", err)
	}
	if n.reboots != 0 {
		t.Errorf("rebooted with nothing to fall back to")
	}
	wantLines(t, n.out.String(), "firstboot: upgrade: slot b (3.0.0) failed its checks: firstboot.service is failed (result exit-code): "+
		"firstboot did not reach done this boot; marked bad, but slot a has nothing bootable: staying on slot b")
}

// TestCheckTimeout: a check that never concludes fails at its timeout
// with what it last saw.
func TestCheckTimeout(t *testing.T) {
	n := upgradedNode(t)
	n.units.set(payload.UnitName, UnitState{ActiveState: "activating", SubState: "start", Result: "success", Started: true})
	env := n.env()
	env.Timeouts.Firstboot = 30 * time.Millisecond
	if err := Check(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	wantLines(t, n.out.String(), "firstboot: upgrade: check firstboot: failed: firstboot.service is activating (start) (gave up after 30ms)")
	if n.boots() != "a" {
		t.Errorf("boots %s next, want a", n.boots())
	}
}

// TestK3sUnitProbe: the K3s check's verdicts on what systemd shows.
func TestK3sUnitProbe(t *testing.T) {
	n := newCheckNode(t)
	env := n.env()
	env.defaults()
	probe := env.unitActive("k3s-agent.service")
	for _, tc := range []struct {
		state UnitState
		want  verdict
		line  string
	}{
		{k3sRunning, pass, "k3s-agent.service is active (running)"},
		{UnitState{ActiveState: "activating", SubState: "start", Result: "success"}, wait, "k3s-agent.service is activating (start), not active"},
		{UnitState{ActiveState: "activating", SubState: "auto-restart", Result: "exit-code", NRestarts: 2}, wait,
			"k3s-agent.service is activating (auto-restart, result exit-code), not active"},
		{k3sCrashLooping, fail, "k3s-agent.service is failed (result exit-code, restarted 3 times)"},
		{UnitState{ActiveState: "failed", SubState: "failed", Result: "signal"}, fail, "k3s-agent.service is failed (result signal)"},
	} {
		n.units.set("k3s-agent.service", tc.state)
		if v, line := probe(context.Background()); v != tc.want || line != tc.line {
			t.Errorf("%+v: %v %q, want %v %q", tc.state, v, line, tc.want, tc.line)
		}
	}
}

func TestParseShow(t *testing.T) {
	got := parseShow("ActiveState=activating\nSubState=auto-restart\nResult=exit-code\nNRestarts=4\nExecMainStartTimestampMonotonic=123456\n")
	want := UnitState{ActiveState: "activating", SubState: "auto-restart", Result: "exit-code", NRestarts: 4, Started: true}
	if got != want {
		t.Errorf("parseShow = %+v, want %+v", got, want)
	}
	if u := parseShow("ActiveState=inactive\nExecMainStartTimestampMonotonic=0\n"); u.Started {
		t.Errorf("a unit never started this boot: %+v", u)
	}
}

// TestCheckFallsBackWithoutRecord: a STATE that takes no record (here the
// record's directory is a file) does not stop the fallback.
func TestCheckFallsBackWithoutRecord(t *testing.T) {
	n := upgradedNode(t)
	writeUnder(t, n.root, "/var/lib/appliance/upgrade", []byte("not a directory"))
	n.units.set(payload.UnitName, UnitState{ActiveState: "failed", SubState: "failed", Result: "exit-code", Started: true})
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if n.boots() != "a" || n.reboots != 1 {
		t.Errorf("boots %s next after %d reboots, want a after 1", n.boots(), n.reboots)
	}
	if !strings.Contains(n.out.String(), "firstboot: upgrade: warning: ") {
		t.Errorf("no warning about the record:\n%s", n.out.String())
	}
}

// TestCheckNamesAnInterruptedApply: after a power cut in the middle of an
// apply, the boot (of the slot the node ran) says that the other slot is
// empty because that apply was cut short, on the console and in status.
func TestCheckNamesAnInterruptedApply(t *testing.T) {
	n := newCheckNode(t)
	n.install(bootslot.B, "2.0.0", 2, bootslot.Blessed(bootslot.B))
	n.boot(bootslot.B, "2.0.0", "boot-8")
	started := Started{Slot: "a", Release: "2.1.0", Source: "http://10.0.0.1:8081/lab-upgrade/", Time: n.now.Add(-time.Minute)}
	if err := writeRecord(n.root, StartedPath, "apply-started record", started); err != nil {
		t.Fatal(err)
	}
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	want := "release: 2.0.0 (slot b); slot a: empty: " + started.Interrupted()
	if got := n.out.String(); got != "firstboot: upgrade: "+want+"; nothing to check\n" {
		t.Errorf("console:\n%s\nwant the line %q", got, want)
	}
	if s, err := ReadStatus(n.root); err != nil || s.Line() != want {
		t.Errorf("status line %q, %v; want %q", s.Line(), err, want)
	}
}

// TestCheckUnreadableRoleRecord: a trial boot whose role record cannot be
// read cannot be checked; the slot is rejected, not left on trial.
func TestCheckUnreadableRoleRecord(t *testing.T) {
	n := upgradedNode(t)
	n.withK3s("server", "node-1", false)
	writeUnder(t, n.root, agent.StateDir+"/steps/decide-role.json", []byte("{not json"))
	n.units.set(payload.UnitName, firstbootFinished)
	if err := Check(context.Background(), n.env()); err != nil {
		t.Fatal(err)
	}
	if got, want := n.entries(), []string{"appliance-a.conf", "appliance-b+0-1.conf"}; !reflect.DeepEqual(got, want) || n.reboots != 1 {
		t.Errorf("entries %v after %d reboots, want %v after 1", got, n.reboots, want)
	}
	if rec := n.record(); rec.Running.State != StateRejected || !strings.Contains(rec.Running.Reason, "the checks could not be listed") {
		t.Errorf("record %+v, want slot b rejected because its checks could not be listed", rec.Running)
	}
}
