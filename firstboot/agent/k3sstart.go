package agent

import (
	"context"
	"os"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// hasK3s reports whether the image carries K3s.
func (e *Env) hasK3s() bool {
	_, err := os.Stat(e.Path(payload.K3sBinaryPath))
	return err == nil
}

// k3sStart queues the K3s unit of the node's role and, on the initial
// server, the platform bring-up. Both are started with --no-block: this
// service is ordered before K3s, so systemd runs them once firstboot has
// finished, and the boot never waits for the platform. Every boot: units
// are not enabled in the image (/etc is reset at each boot), so nothing
// starts K3s but this step.
func k3sStart(ctx context.Context, env *Env) error {
	if !env.hasK3s() {
		return nil
	}
	unit := payload.K3sAgentUnit
	if env.Role == nodeconfig.RoleServer {
		unit = payload.K3sServerUnit
	}
	if _, err := env.Runner.Run(ctx, "systemctl", "start", "--no-block", unit); err != nil {
		return err
	}
	env.Printf("k3s-start: %s queued; it starts when firstboot finishes", unit)
	if !env.ClusterInit {
		return nil
	}
	if _, err := env.Runner.Run(ctx, "systemctl", "start", "--no-block", payload.PlatformUnitName); err != nil {
		return err
	}
	env.Printf("k3s-start: platform bring-up queued (%s); `firstboot status` shows its progress", payload.PlatformUnitName)
	return nil
}
