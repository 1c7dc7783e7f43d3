package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/bringup"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// TestPlatformProbe: the platform check's verdicts on what systemd shows
// of firstboot-platform.service, with the bring-up's status as detail.
func TestPlatformProbe(t *testing.T) {
	n := newCheckNode(t)
	env := n.env()
	env.defaults()
	if err := os.MkdirAll(filepath.Join(n.root, agent.StateDir), 0o755); err != nil {
		t.Fatal(err)
	}
	status := bringup.Status{API: bringup.APIReady, Components: []bringup.ComponentStatus{
		{Name: "minio", State: bringup.StateReady},
		{Name: "mlflow", State: bringup.StateFailed, Reason: "install job kube-system/helm-install-mlflow failed: BackoffLimitExceeded"},
	}}
	if err := bringup.WriteStatusFile(filepath.Join(n.root, agent.PlatformStatusPath), status); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		state UnitState
		want  verdict
		line  string
	}{
		{UnitState{ActiveState: "inactive", SubState: "dead", Result: "success"}, wait, "firstboot-platform.service has not started yet"},
		{UnitState{ActiveState: "active", SubState: "running", Result: "success", Started: true}, wait,
			"firstboot-platform.service is active (running): 1 of 2 components ready; mlflow failed: install job kube-system/helm-install-mlflow failed: BackoffLimitExceeded"},
		{UnitState{ActiveState: "failed", SubState: "failed", Result: "exit-code", Started: true}, fail,
			"the platform did not come up (firstboot-platform.service is failed (failed, result exit-code)): 1 of 2 components ready; " +
				"mlflow failed: install job kube-system/helm-install-mlflow failed: BackoffLimitExceeded"},
	} {
		n.units.set(payload.PlatformUnitName, tc.state)
		if v, line := env.platformUp(context.Background()); v != tc.want || line != tc.line {
			t.Errorf("%+v:\n got %v %q\nwant %v %q", tc.state, v, line, tc.want, tc.line)
		}
	}
	status.Components[1].State, status.Components[1].Reason = bringup.StateReady, ""
	if err := bringup.WriteStatusFile(filepath.Join(n.root, agent.PlatformStatusPath), status); err != nil {
		t.Fatal(err)
	}
	n.units.set(payload.PlatformUnitName, UnitState{ActiveState: "inactive", SubState: "dead", Result: "success", Started: true})
	if v, line := env.platformUp(context.Background()); v != pass || line != "the platform came up: 2 of 2 components ready" {
		t.Errorf("platform up: %v %q", v, line)
	}
}

// TestChecksOfTheInitialServer: the initial server of an image with a
// platform checks it last; another server does not.
func TestChecksOfTheInitialServer(t *testing.T) {
	for _, init := range []bool{true, false} {
		n := newCheckNode(t)
		n.withK3s("server", "node-1", init)
		writeUnder(t, n.root, payload.PlatformManifest, []byte("{}"))
		env := n.env()
		env.defaults()
		checks, err := env.checks()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range checks {
			names = append(names, c.name)
		}
		want := "firstboot k3s node"
		if init {
			want += " platform"
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("cluster-init %v: checks %q, want %q", init, got, want)
		}
	}
}
