package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgrade"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/firstboot/upgradecluster"
)

// TestLastResultFollowsTheBootCheck: the watcher's view of the last apply
// goes applied (written, and on its trial boot) → blessed, or → rolled
// back with the boot check's reason once the node runs the other slot.
func TestLastResultFollowsTheBootCheck(t *testing.T) {
	applied := upgrade.Applied{Slot: "b", Release: upgradebundle.Release{Version: "2.0.0"}}
	for _, c := range []struct {
		name   string
		status upgrade.BootStatus
		want   upgradecluster.Result
	}{
		{"written, not rebooted", upgrade.BootStatus{
			Running: upgrade.SlotStatus{Slot: "a", Release: "1.0.0", State: upgrade.StateGood},
			Other:   upgrade.SlotStatus{Slot: "b", Release: "2.0.0", State: upgrade.StateTrial, TriesLeft: 3}},
			upgradecluster.Result{Release: "2.0.0", State: upgradecluster.StateApplied}},
		{"trial boot, checks running", upgrade.BootStatus{
			Running: upgrade.SlotStatus{Slot: "b", Release: "2.0.0", State: upgrade.StateTrial, TriesLeft: 2},
			Other:   upgrade.SlotStatus{Slot: "a", Release: "1.0.0", State: upgrade.StateGood}},
			upgradecluster.Result{Release: "2.0.0", State: upgradecluster.StateApplied}},
		{"blessed", upgrade.BootStatus{
			Running: upgrade.SlotStatus{Slot: "b", Release: "2.0.0", State: upgrade.StateBlessed},
			Other:   upgrade.SlotStatus{Slot: "a", Release: "1.0.0", State: upgrade.StateGood}},
			upgradecluster.Result{Release: "2.0.0", State: upgradecluster.StateBlessed}},
		{"rolled back", upgrade.BootStatus{
			Running: upgrade.SlotStatus{Slot: "a", Release: "1.0.0", State: upgrade.StateGood},
			Other:   upgrade.SlotStatus{Slot: "b", Release: "2.0.0", State: upgrade.StateRejected, Reason: "k3s.service is failed"}},
			upgradecluster.Result{Release: "2.0.0", State: upgradecluster.StateRolledBack, Reason: "k3s.service is failed"}},
	} {
		if got := lastResult(applied, c.status); got != c.want {
			t.Errorf("%s: lastResult = %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestUpgradeClusterIfUnfinished: the boot-time unit takes up only an
// upgrade cut short at a node; a finished one, one stopped at a rollback
// and none at all leave it doing nothing.
func TestUpgradeClusterIfUnfinished(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, upgradecluster.ProgressFile)
	for _, c := range []struct {
		name, progress string
		want           bool
	}{
		{"none", "", false},
		{"finished", `{"release":"2.0.0","bundleURL":"http://10.0.0.1:8081/lab-upgrade/manifest.json","done":["s1","s2"]}`, false},
		{"stopped at a rollback", `{"release":"2.0.0","bundleURL":"http://10.0.0.1:8081/lab-upgrade/manifest.json","done":["s1"],"stopped":"node s2: rolled back"}`, false},
		{"cut short at this server", `{"release":"2.0.0","bundleURL":"http://10.0.0.1:8081/lab-upgrade/manifest.json","current":{"node":"s1","step":"requested"}}`, true},
	} {
		os.Remove(path)
		if c.progress != "" {
			if err := os.WriteFile(path, []byte(c.progress), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, err := unfinishedUpgrade(path)
		if err != nil || got != c.want {
			t.Errorf("%s: unfinishedUpgrade = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	os.Remove(path)
	var out strings.Builder
	cmd := newUpgradeClusterCmd(nil)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--if-unfinished", "--state-dir", dir})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "no unfinished cluster upgrade") {
		t.Errorf("--if-unfinished with nothing unfinished: %v, output %q", err, out.String())
	}
}

// TestUpgradeClusterUnitArgs: the resumption unit's flags are the
// command's, and it runs only where a progress file is.
func TestUpgradeClusterUnitArgs(t *testing.T) {
	unit := payload.UpgradeClusterUnit()
	if !strings.Contains(unit, "ConditionPathExists="+filepath.Join(upgradecluster.StateDir, upgradecluster.ProgressFile)+"\n") {
		t.Errorf("unit does not run on the progress file's condition:\n%s", unit)
	}
	var exec string
	for _, l := range strings.Split(unit, "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="+payload.BinaryPath+" upgrade cluster"); ok {
			exec = rest
		}
	}
	if !strings.Contains(exec, "--if-unfinished") {
		t.Fatalf("unit does not run `firstboot upgrade cluster --if-unfinished`:\n%s", unit)
	}
	if err := newUpgradeClusterCmd(nil).ParseFlags(strings.Fields(exec)); err != nil {
		t.Errorf("unit's flags %q: %v", exec, err)
	}
}

// TestWaitForFile: the watcher waits, saying so once, until K3s writes
// the kubeconfig, and stops waiting when it is stopped.
func TestWaitForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubelet.kubeconfig")
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- waitForFile(context.Background(), path, 10*time.Millisecond, &out) }()
	time.Sleep(50 * time.Millisecond)
	if err := os.WriteFile(path, []byte("apiVersion: v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waitForFile: %v", err)
	}
	if got := strings.Count(out.String(), "waiting for "+path); got != 1 {
		t.Errorf("said it waits %d times, want once:\n%s", got, out.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitForFile(ctx, path+".absent", time.Hour, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("stopped: %v, want context.Canceled", err)
	}
}
