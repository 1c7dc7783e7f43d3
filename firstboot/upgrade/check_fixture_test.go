package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// checkNode is a node's root for Check: an ESP in a directory (the real
// ESP type), the OS image's release.json, the kernel command line and
// boot id under proc/, firstboot's role record, and a unitTable for
// systemd.
type checkNode struct {
	t       *testing.T
	root    string
	esp     *ESP
	units   *unitTable
	out     bytes.Buffer
	reboots int
	now     time.Time
}

func newCheckNode(t *testing.T) *checkNode {
	t.Helper()
	return &checkNode{t: t, root: t.TempDir(), esp: &ESP{Dir: t.TempDir()}, units: &unitTable{states: map[string]UnitState{}},
		now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

// release is a release of the fixture's site.
func checkRelease(version string) upgradebundle.Release {
	return upgradebundle.Release{Site: "lab", SiteID: upgradebundle.SiteID("seed"), Version: version, KernelVersion: "6.1.0-1-amd64"}
}

// install puts slot s's files and loader entry (named name) on the ESP.
func (n *checkNode) install(s bootslot.Slot, version string, gen int, name bootslot.EntryName) {
	installSlot(n.t, n.esp, s, checkRelease(version), gen, name)
}

// boot makes the root look booted from slot s running version: its
// command line (as the slot's loader entry has it), release.json and a
// boot id of its own.
func (n *checkNode) boot(s bootslot.Slot, version, bootID string) {
	n.t.Helper()
	options, err := bootslot.Options(s, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	release, err := upgradebundle.MarshalRelease(checkRelease(version))
	if err != nil {
		n.t.Fatal(err)
	}
	writeUnder(n.t, n.root, "proc/cmdline", []byte("BOOT_IMAGE=/"+s.KernelPath()+" "+options+"\n"))
	writeUnder(n.t, n.root, "proc/sys/kernel/random/boot_id", []byte(bootID+"\n"))
	writeUnder(n.t, n.root, upgradebundle.ReleasePath, release)
	n.now = n.now.Add(time.Hour)
}

// withK3s gives the image K3s and firstboot's decided role.
func (n *checkNode) withK3s(role, hostname string, clusterInit bool) {
	n.t.Helper()
	writeUnder(n.t, n.root, payload.K3sBinaryPath, []byte("k3s"))
	rec := agent.Record{Step: "decide-role", Completed: n.now,
		Values: map[string]string{"role": role, "hostname": hostname, "clusterInit": map[bool]string{true: "true", false: "false"}[clusterInit]}}
	data, err := json.Marshal(rec)
	if err != nil {
		n.t.Fatal(err)
	}
	writeUnder(n.t, n.root, agent.StateDir+"/steps/decide-role.json", data)
}

// env is the CheckEnv of the node: the ESP directory, the unit table, a
// reboot that counts, polls every millisecond.
func (n *checkNode) env() *CheckEnv {
	return &CheckEnv{
		Root: n.root, Out: &n.out,
		Now:     func() time.Time { return n.now },
		OpenESP: func(bootslot.Slot) (BootEntries, func() error, error) { return n.esp, func() error { return nil }, nil },
		Units:   n.units,
		Reboot: func(context.Context) error {
			n.reboots++
			return nil
		},
		Timeouts: CheckTimeouts{Poll: time.Millisecond},
	}
}

// entries lists the ESP's loader entry files.
func (n *checkNode) entries() []string {
	n.t.Helper()
	des, err := os.ReadDir(filepath.Join(n.esp.Dir, bootslot.EntriesDir))
	if err != nil {
		n.t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	slices.Sort(names)
	return names
}

// boots is the slot systemd-boot would boot next (bootslot.Choose).
func (n *checkNode) boots() string {
	n.t.Helper()
	installed, err := n.esp.Installed()
	if err != nil {
		n.t.Fatal(err)
	}
	s, ok := bootslot.Choose(installed)
	if !ok {
		return "nothing"
	}
	return s.Name
}

// record is the boot check's record.
func (n *checkNode) record() BootStatus {
	n.t.Helper()
	s, err := readBootStatus(n.root)
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

// unitTable is a TEST DOUBLE of systemd's unit states: a unit it does not
// list is "inactive (dead)", as systemctl show says of a unit it does not
// know. It counts what it was asked.
type unitTable struct {
	mu     sync.Mutex
	states map[string]UnitState
	asked  []string
}

func (u *unitTable) State(_ context.Context, unit string) (UnitState, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, unit)
	if s, ok := u.states[unit]; ok {
		return s, nil
	}
	return UnitState{ActiveState: "inactive", SubState: "dead", Result: "success"}, nil
}

func (u *unitTable) set(unit string, s UnitState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.states[unit] = s
}

// States systemd shows.
var (
	// firstbootFinished is firstboot.service after `firstboot run` exited 0.
	firstbootFinished = UnitState{ActiveState: "active", SubState: "exited", Result: "success", Started: true}
	// k3sRunning is a K3s unit after K3s said it is ready.
	k3sRunning = UnitState{ActiveState: "active", SubState: "running", Result: "success", Started: true}
	// k3sCrashLooping is a K3s unit whose K3s exited 1 at its fourth
	// start: Restart=always schedules the next one.
	k3sCrashLooping = UnitState{ActiveState: "activating", SubState: "auto-restart", Result: "exit-code", NRestarts: 3, Started: true}
)
