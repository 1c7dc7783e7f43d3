package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// CheckTimeouts bound the boot checks.
type CheckTimeouts struct {
	// Firstboot bounds the wait for firstboot.service to finish (it is
	// ordered before the check, so this is a margin).
	Firstboot time.Duration
	// K3s bounds the wait for the role's K3s unit to be active.
	K3s time.Duration
	// Node bounds the wait for the node to be Ready.
	Node time.Duration
	// Platform bounds the wait for firstboot-platform.service to finish.
	// The bring-up bounds itself (package bringup: the API, then each
	// component within its own timeout) and its unit's result says
	// whether the platform came up within them; this is a safety net.
	Platform time.Duration
	// Poll is the interval between looks.
	Poll time.Duration
}

// Default timeouts.
const (
	DefaultFirstbootTimeout = 2 * time.Minute
	DefaultK3sTimeout       = 5 * time.Minute
	DefaultNodeTimeout      = 10 * time.Minute
	DefaultPlatformTimeout  = 2 * time.Hour
	DefaultPoll             = 5 * time.Second
)

// K3sFailedStarts is how many failed starts of the K3s unit this boot
// fail the check at once. The units restart K3s forever (install.sh:
// Restart=always, RestartSec=5s, TimeoutStartSec=0), so a K3s that cannot
// start never turns "failed".
const K3sFailedStarts = 3

func (t CheckTimeouts) withDefaults() CheckTimeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Firstboot, DefaultFirstbootTimeout)
	def(&t.K3s, DefaultK3sTimeout)
	def(&t.Node, DefaultNodeTimeout)
	def(&t.Platform, DefaultPlatformTimeout)
	def(&t.Poll, DefaultPoll)
	return t
}

// verdict is what one look at a check found.
type verdict int

const (
	wait verdict = iota // not yet: look again
	pass
	fail
)

// probe looks once and says what it found in one line.
type probe func(ctx context.Context) (verdict, string)

// bootCheck is one named check.
type bootCheck struct {
	name    string
	timeout time.Duration
	probe   probe
}

// checks are the boot checks of this node, in order: firstboot, then,
// with K3s in the image, the role's K3s unit and the node's Ready
// condition, and on the initial server of an image with a platform, the
// platform.
func (env *CheckEnv) checks() ([]bootCheck, error) {
	t := env.Timeouts
	list := []bootCheck{{"firstboot", t.Firstboot, env.firstbootDone}}
	if !env.exists(payload.K3sBinaryPath) {
		return list, nil
	}
	role, err := agent.ReadRoleRecord(env.Root)
	if err != nil {
		return nil, err
	}
	if role.Role == "" {
		// firstboot never decided a role: its check fails first.
		return list, nil
	}
	unit := payload.K3sAgentUnit
	if role.Role == nodeconfig.RoleServer {
		unit = payload.K3sServerUnit
	}
	list = append(list,
		bootCheck{"k3s", t.K3s, env.unitActive(unit)},
		bootCheck{"node", t.Node, env.nodeReady(role.Role, strings.ToLower(role.Hostname))})
	if role.ClusterInit && env.exists(payload.PlatformManifest) {
		list = append(list, bootCheck{"platform", t.Platform, env.platformUp})
	}
	return list, nil
}

// exists says whether path exists under the root.
func (env *CheckEnv) exists(path string) bool {
	_, err := os.Stat(filepath.Join(env.Root, path))
	return err == nil
}

// runChecks runs the checks in order and stops at the first that fails;
// failure is its reason, "" when all passed.
func (env *CheckEnv) runChecks(ctx context.Context) (results []CheckResult, failure string, err error) {
	checks, err := env.checks()
	if err != nil {
		// A node whose role record cannot be read cannot be checked:
		// that fails the slot, rather than leaving it on trial.
		line := fmt.Sprintf("the checks could not be listed: %v", err)
		env.printf("check: failed: %s", line)
		return nil, line, nil
	}
	for _, c := range checks {
		began := env.Now()
		ok, line := env.run(ctx, c)
		if err := ctx.Err(); err != nil {
			return results, "", fmt.Errorf("upgrade check %s: %w", c.name, err)
		}
		results = append(results, CheckResult{Name: c.name, OK: ok, Result: line, Took: env.Now().Sub(began).Round(time.Millisecond)})
		if !ok {
			env.printf("check %s: failed: %s", c.name, line)
			return results, line, nil
		}
		env.printf("check %s: ok: %s", c.name, line)
	}
	return results, "", nil
}

// run looks at c every Poll until it passes or fails, or its timeout
// passes: then it fails with what the last look found.
func (env *CheckEnv) run(parent context.Context, c bootCheck) (bool, string) {
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	last := ""
	for {
		v, line := c.probe(ctx)
		switch {
		case v == pass:
			return true, line
		case v == fail:
			return false, line
		case !cutShort(ctx) || last == "":
			// A look the deadline cut short says less than the one before.
			last = line
		}
		if env.Sleep(ctx, env.Timeouts.Poll) != nil {
			return false, fmt.Sprintf("%s (gave up after %s)", last, c.timeout)
		}
	}
}

// cutShort says whether ctx's deadline has come (its Done channel may
// close a moment later).
func cutShort(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
