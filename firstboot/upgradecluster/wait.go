package upgradecluster

import (
	"fmt"
	"strings"
)

// What the orchestrator reads off a node it asked to upgrade. Only
// annotations the node published in its current boot count (fresh).

// upgraded says whether the node runs release, is Ready, and is not in
// the middle of its attempt of release: a disk node that booted a new
// slot reports StateApplied until its boot check blesses the slot (or
// rolls it back). A netbooted node has no boot check: running the release
// is enough. A node that runs release without having upgraded to it (it
// was installed with it) is upgraded too.
func upgraded(v nodeView, release string) bool {
	if !v.fresh() || !v.Ready || v.Release != release {
		return false
	}
	pending := v.Result.Release == release && (v.Result.State == StateApplying || v.Result.State == StateApplied)
	return v.Medium == MediumNetboot || !pending
}

// stopped says whether the node's attempt of release is over without it:
// the node reported it rolled back or failed, or it rebooted after trying
// the release (askedBoot is its boot when it was asked) and runs another
// one without saying why (systemd-boot fell back to the old slot after
// three failed tries before any check could record it).
func stopped(v nodeView, release, askedBoot string) (reason string, ok bool) {
	if !v.fresh() || v.Result.Release != release {
		return "", false
	}
	switch v.Result.State {
	case StateRolledBack, StateFailed:
		reason = string(v.Result.State)
		if v.Result.Reason != "" {
			reason += ": " + v.Result.Reason
		}
		return reason, true
	}
	if v.BootID != askedBoot && v.Ready && v.Release != release {
		return fmt.Sprintf("rebooted and came back on release %s (its attempt of %s: %s)", v.Release, release, v.Result.State), true
	}
	return "", false
}

// describe says where a node is, for progress lines and timeouts.
func describe(v nodeView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "running %s", orNone(v.Release))
	if v.Result.Release != "" {
		fmt.Fprintf(&b, ", attempt of %s %s", v.Result.Release, v.Result.State)
	}
	if v.Ready {
		b.WriteString(", Ready")
	} else {
		b.WriteString(", not Ready")
	}
	if !v.fresh() {
		fmt.Fprintf(&b, " (as of an earlier boot: its upgrade watcher has not published in boot %s yet)", orNone(v.BootID))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
