package main

import (
	"context"
	"io"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/upgrade"
	"github.com/ml-appliance/appliance/firstboot/upgradecluster"
)

// nodeLocal is the node itself as the cluster upgrade's watcher sees it
// (upgradecluster.Local), read from the records firstboot/upgrade keeps:
// the OS image's release, the apply record and the boot check's record.
type nodeLocal struct {
	root string
	out  io.Writer
}

// newNodeLocal is newUpgradeWatchCmd's Local for this host.
func newNodeLocal(out io.Writer) func() (upgradecluster.Local, error) {
	return func() (upgradecluster.Local, error) { return nodeLocal{root: "/", out: out}, nil }
}

func (l nodeLocal) Release() string {
	r, err := upgrade.ReadRelease(l.root)
	if err != nil {
		return ""
	}
	return r.Version
}

func (l nodeLocal) Medium() string {
	m, err := upgrade.ReadBootMedium(l.root)
	if err != nil {
		return ""
	}
	return m
}

// LastResult follows the last apply through the boot check's record:
// applied until the slot it wrote passed its checks (blessed) or was
// rejected and the node came back on the other slot (rolled back).
func (l nodeLocal) LastResult() upgradecluster.Result {
	applied, err := upgrade.ReadApplied(l.root)
	if err != nil {
		return upgradecluster.Result{}
	}
	status, err := upgrade.ReadStatus(l.root)
	if err != nil {
		return upgradecluster.Result{}
	}
	return lastResult(applied, status)
}

// lastResult is LastResult's decision, apart from reading the records.
func lastResult(applied upgrade.Applied, status upgrade.BootStatus) upgradecluster.Result {
	res := upgradecluster.Result{Release: applied.Release.Version, State: upgradecluster.StateApplied}
	switch {
	case status.Running.Slot == applied.Slot && status.Running.Release == applied.Release.Version:
		if status.Running.State != upgrade.StateTrial {
			res.State = upgradecluster.StateBlessed
		}
	case status.Other.Slot == applied.Slot && status.Other.State == upgrade.StateRejected:
		res.State, res.Reason = upgradecluster.StateRolledBack, status.Other.Reason
	}
	return res
}

func (l nodeLocal) Apply(ctx context.Context, url string) error {
	_, err := upgrade.Apply(ctx, upgrade.Options{Root: l.root, Bundle: url, Out: l.out})
	return err
}

// Reboot queues the reboot and returns: the watcher publishes its result
// first, and systemd stops it on the way down.
func (nodeLocal) Reboot() error {
	_, err := agent.ExecRunner{}.Run(context.Background(), "systemctl", "reboot", "--no-block")
	return err
}
