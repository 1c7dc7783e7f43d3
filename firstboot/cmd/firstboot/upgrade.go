package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/firstboot/upgrade"
	"github.com/ml-appliance/appliance/firstboot/upgradecluster"
)

func newUpgradeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Upgrade to a new build of the site: this node (A/B slots, with fallback), or the cluster node by node",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newUpgradeApplyCmd(), newUpgradeCheckCmd(), newUpgradeClusterCmd(stageUpgradeBundle), newUpgradeWatchCmd(newNodeLocal(os.Stdout)))
	return cmd
}

func newUpgradeApplyCmd() *cobra.Command {
	var reboot bool
	opts := upgrade.Options{}
	cmd := &cobra.Command{
		Use:   "apply FILE|URL",
		Short: "Write an upgrade bundle to the slot this node did not boot, and boot it next on trial",
		Long: `Verify the upgrade bundle (its directory, its manifest.json, or an http(s) URL of
either) with this site's key, write its OS image to the slot this node did not
boot, its kernel and initramfs to the ESP and its image payload to STATE when
the node lacks it, then write that slot's loader entry last, with three tries:
the next boot starts the new release, and its boot check blesses it or falls
back to the release running now. A refusal, a failure or a power cut at any
point leaves the node booting what it runs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Bundle, opts.Out = args[0], cmd.OutOrStdout()
			if reboot {
				opts.Reboot = rebootNode
			}
			_, err := upgrade.Apply(cmd.Context(), opts)
			return err
		},
	}
	cmd.Flags().BoolVar(&reboot, "reboot", false, "reboot into the new release once it is written")
	cmd.Flags().BoolVar(&opts.AllowDowngrade, "allow-downgrade", false, "accept a bundle older than the running release")
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root directory")
	return cmd
}

// stageUpgradeBundle is the cluster upgrade's stageBundle: a verified
// copy of the bundle in dir (upgrade.Stage).
func stageUpgradeBundle(ctx context.Context, src, dir string) (upgradecluster.Bundle, error) {
	m, path, err := upgrade.Stage(ctx, upgrade.StageOptions{Bundle: src, Dir: dir})
	if err != nil {
		return upgradecluster.Bundle{}, err
	}
	return upgradecluster.Bundle{Dir: path, Site: m.Release.Site, Release: m.Release.Version}, nil
}
