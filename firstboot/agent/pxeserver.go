package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// pxeServer queues the PXE boot server on the initial server of an image
// that carries the bundle (outputs.pxe.serveFromInitServer), so workers
// netboot from it. Every boot, like K3s: the unit is not enabled.
func pxeServer(ctx context.Context, env *Env) error {
	config := path.Join(payload.PXEDir, payload.PXEServeConfigFile)
	if _, err := os.Stat(env.Path(config)); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if !env.ClusterInit {
		env.Printf("pxe-server: this image carries a PXE bundle; the initial server serves it, not this node")
		return nil
	}
	if _, err := env.Runner.Run(ctx, "systemctl", "start", "--no-block", payload.PXEUnitName); err != nil {
		return err
	}
	env.Printf("pxe-server: %s queued: workers netboot from this node", payload.PXEUnitName)
	return nil
}
