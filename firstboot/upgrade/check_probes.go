package upgrade

import (
	"context"
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/bringup"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// firstbootDone: firstboot reached "firstboot: done" this boot. firstboot
// keeps no record of that line: agent.Run prints it as its last act and
// returns nil only then, and `firstboot run` exits 0 only when Run
// returned nil (cmd/firstboot main.go run). firstboot.service is a oneshot
// with RemainAfterExit=yes (payload/firstboot.service), and systemd keeps
// a unit's state per boot, so "active" with result "success" says this
// boot's firstboot reached done; "failed" says it stopped before.
func (env *CheckEnv) firstbootDone(ctx context.Context) (verdict, string) {
	u, err := env.Units.State(ctx, payload.UnitName)
	switch {
	case err != nil:
		return wait, err.Error()
	case u.ActiveState == "active" && u.Result == "success":
		return pass, payload.UnitName + " finished: firstboot reached done this boot"
	case u.ActiveState == "failed":
		return fail, fmt.Sprintf("%s is failed (result %s): firstboot did not reach done this boot", payload.UnitName, u.Result)
	case u.ActiveState == "inactive":
		return fail, fmt.Sprintf("%s did not run this boot (%s)", payload.UnitName, u)
	}
	return wait, fmt.Sprintf("%s is %s", payload.UnitName, u)
}

// unitActive: the role's K3s unit is active. The units are Type=notify,
// so "active" means K3s said it is ready. They restart K3s forever, so a
// K3s that keeps failing is failed after K3sFailedStarts restarts.
func (env *CheckEnv) unitActive(unit string) probe {
	return func(ctx context.Context) (verdict, string) {
		u, err := env.Units.State(ctx, unit)
		switch {
		case err != nil:
			return wait, err.Error()
		case u.ActiveState == "active":
			return pass, fmt.Sprintf("%s is %s", unit, u)
		case u.ActiveState == "failed":
			return fail, fmt.Sprintf("%s is failed (result %s)", unit, u.Result)
		case u.Result != "success" && u.NRestarts >= K3sFailedStarts:
			return fail, fmt.Sprintf("%s is failed (result %s, restarted %d times)", unit, u.Result, u.NRestarts)
		}
		return wait, fmt.Sprintf("%s is %s, not active", unit, u)
	}
}

// platformUp: on the initial server, the platform came up.
// firstboot-platform.service (`firstboot platform`, agent.RunPlatform)
// follows every component to ready or failed within package bringup's
// timeouts, keeps the status `firstboot status` prints
// (agent.PlatformStatusPath) and exits non-zero when the API never
// answered or a component failed: its result is the verdict, the status
// file the detail.
func (env *CheckEnv) platformUp(ctx context.Context) (verdict, string) {
	u, err := env.Units.State(ctx, payload.PlatformUnitName)
	switch {
	case err != nil:
		return wait, err.Error()
	case u.ActiveState == "inactive" && u.Started && u.Result == "success":
		return pass, "the platform came up: " + env.platformSummary()
	case u.ActiveState == "failed" || (u.ActiveState == "inactive" && u.Started):
		return fail, fmt.Sprintf("the platform did not come up (%s is %s): %s", payload.PlatformUnitName, u, env.platformSummary())
	case !u.Started:
		return wait, payload.PlatformUnitName + " has not started yet"
	}
	return wait, fmt.Sprintf("%s is %s: %s", payload.PlatformUnitName, u, env.platformSummary())
}

// platformSummary says how many components are ready and what the others
// are doing, from the bring-up's status file.
func (env *CheckEnv) platformSummary() string {
	s, err := bringup.ReadStatusFile(env.Root + agent.PlatformStatusPath)
	if err != nil {
		return "no platform status: " + err.Error()
	}
	if s.API != "" && s.API != bringup.APIReady {
		if s.API == bringup.APIWaiting {
			return "waiting for the kubernetes API"
		}
		return oneLine(s.API, maxSummary)
	}
	ready, others := 0, []string{}
	for _, c := range s.Components {
		if c.State == bringup.StateReady {
			ready++
			continue
		}
		o := c.Name + " " + c.State
		if c.Reason != "" {
			o += ": " + c.Reason
		}
		others = append(others, o)
	}
	line := fmt.Sprintf("%d of %d components ready", ready, len(s.Components))
	if len(others) > 0 {
		line += "; " + strings.Join(others, "; ")
	}
	return oneLine(line, maxSummary)
}

// maxSummary bounds the platform's summary in a console line.
const maxSummary = 512

// oneLine is s with line breaks made blanks, cut to max bytes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
