package upgrade

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// BootStatusPath is the boot check's record on STATE: which release runs
// in which slot, what the other slot holds and, for a slot that was
// rejected, why. Check writes it at every boot of a disk-booted node;
// `firstboot status` prints it (ReadStatus, Line).
const BootStatusPath = "/var/lib/appliance/upgrade/boot.json"

// maxBootStatus bounds the record read back.
const maxBootStatus = 256 << 10

// Slot states in a BootStatus.
const (
	// StateTrial: the slot's loader entry still counts boots (an upgrade
	// wrote it, no check passed yet).
	StateTrial = "trial"
	// StateBlessed: the slot passed its boot check after an upgrade.
	StateBlessed = "blessed"
	// StateGood: the slot's entry has no counter and no upgrade of this
	// node wrote it last (the slot the disk came with, or the previous
	// release).
	StateGood = "good"
	// StateRejected: the slot failed its checks, or did not boot in
	// bootslot.Tries tries; systemd-boot boots the other slot.
	StateRejected = "rejected"
	// StateEmpty: the slot has no loader entry.
	StateEmpty = "empty"
)

// BootStatus is the record at BootStatusPath.
type BootStatus struct {
	Updated time.Time `json:"updated"`
	// BootID is the kernel's boot id of the boot that wrote the record.
	BootID string `json:"bootID"`
	// Running is the slot this boot runs, Other the other one.
	Running SlotStatus `json:"running"`
	Other   SlotStatus `json:"other"`
	// Checks are this boot's check results, when the running slot was on
	// trial.
	Checks []CheckResult `json:"checks,omitempty"`
	// Earlier is set by ReadStatus on a record an earlier boot wrote.
	Earlier bool `json:"earlier,omitempty"`
	// Error says why the status could not be read (the caller's).
	Error string `json:"error,omitempty"`
}

// SlotStatus is what a slot holds.
type SlotStatus struct {
	Slot string `json:"slot"`
	// Release is the slot's release version, "" when not known.
	Release string `json:"release,omitempty"`
	// State is one of StateTrial, StateBlessed, StateGood,
	// StateRejected, StateEmpty.
	State string `json:"state"`
	// TriesLeft is the entry's boot counter, on trial.
	TriesLeft int `json:"triesLeft,omitempty"`
	// Reason says why a rejected slot was rejected, or why an empty one
	// is empty (an apply cut short).
	Reason string `json:"reason,omitempty"`
}

// CheckResult is one boot check's outcome.
type CheckResult struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Result is one line: what was found, or why the check failed.
	Result string        `json:"result"`
	Took   time.Duration `json:"took"`
}

// Line is the status in one line, for `firstboot status` and the console:
//
//	release: 2.0.0 (slot b, blessed); slot a: 1.0.0
//	release: 2.0.0 (slot a); slot b: 3.0.0 rejected: k3s.service is failed
//	release: 3.0.0 (slot b, on trial: checks running, 2 tries left); slot a: 2.0.0
func (s BootStatus) Line() string {
	if s.Error != "" {
		return "release: not known: " + s.Error
	}
	if s.Running.Slot == "" {
		return fmt.Sprintf("release: %s (booted from the network or live: no A/B boot slots)", orUnknown(s.Running.Release))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "release: %s (slot %s", orUnknown(s.Running.Release), s.Running.Slot)
	switch r := s.Running; {
	case r.State == StateBlessed:
		b.WriteString(", blessed")
	case r.State == StateTrial && s.Earlier:
		fmt.Fprintf(&b, ", on trial, %s", triesLeft(r.TriesLeft))
	case r.State == StateTrial:
		fmt.Fprintf(&b, ", on trial: checks running, %s", triesLeft(r.TriesLeft))
	case r.State == StateRejected:
		fmt.Fprintf(&b, ", rejected: %s; falling back to slot %s", r.Reason, s.Other.Slot)
	}
	b.WriteString(")")
	switch o := s.Other; o.State {
	case "":
	case StateEmpty:
		fmt.Fprintf(&b, "; slot %s: empty", o.Slot)
		if o.Reason != "" {
			fmt.Fprintf(&b, ": %s", o.Reason)
		}
	case StateRejected:
		fmt.Fprintf(&b, "; slot %s: %s rejected: %s", o.Slot, orUnknown(o.Release), o.Reason)
	case StateTrial:
		fmt.Fprintf(&b, "; slot %s: %s boots next, on trial (%s)", o.Slot, orUnknown(o.Release), triesLeft(o.TriesLeft))
	default:
		fmt.Fprintf(&b, "; slot %s: %s", o.Slot, orUnknown(o.Release))
	}
	switch {
	case s.Earlier && s.Updated.IsZero():
		b.WriteString(" [the upgrade check has not run yet]")
	case s.Earlier:
		fmt.Fprintf(&b, " [as of an earlier boot, %s: the upgrade check has not run this boot yet]", s.Updated.Format(time.RFC3339))
	}
	return b.String()
}

func orUnknown(release string) string {
	if release == "" {
		return "(release unknown)"
	}
	return release
}

func triesLeft(n int) string {
	if n == 1 {
		return "1 try left"
	}
	return fmt.Sprintf("%d tries left", n)
}

// writeBootStatus records s under root, atomically.
func writeBootStatus(root string, s BootStatus) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("boot check record: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(root, BootStatusPath), append(data, '\n'), 0o644, atomicfile.MkdirAll(0o755))
}

// readBootStatus reads the record under root; with none, the error
// satisfies errors.Is(err, fs.ErrNotExist).
func readBootStatus(root string) (BootStatus, error) {
	var s BootStatus
	data, err := smallfile.Read(filepath.Join(root, BootStatusPath), maxBootStatus)
	if err != nil {
		return s, fmt.Errorf("boot check record %s: %w", BootStatusPath, smallfile.Cause(err))
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("boot check record %s: %w", BootStatusPath, err)
	}
	return s, nil
}
