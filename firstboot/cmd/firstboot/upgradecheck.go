package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/upgrade"
)

// newUpgradeCheckCmd is `firstboot upgrade check`, which
// appliance-upgrade-check.service runs at every boot.
func newUpgradeCheckCmd() *cobra.Command {
	var console string
	var noReboot bool
	env := upgrade.CheckEnv{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a slot an upgrade wrote, then bless it or fall back (run by appliance-upgrade-check.service)",
		Long: `On a node booted from a disk slot whose loader entry is on trial (an upgrade
wrote it), check that firstboot reached done this boot, the role's K3s unit is
active, the node is Ready, and on the initial server that the platform came up;
then bless the slot, or record why it failed, mark it bad and reboot into the
other slot. On any other boot, say which release runs and why the other slot
was rejected. Either way, record what ` + "`firstboot status`" + ` shows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !noReboot {
				env.Reboot = rebootNode
			}
			return onConsole(cmd, console, "firstboot: upgrade: error: ", func(out io.Writer) error {
				env.Out = out
				return upgrade.Check(cmd.Context(), &env)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&env.Root, "root", "/", "host root directory")
	f.StringVar(&console, "console", "", "also write each line to this terminal")
	f.BoolVar(&noReboot, "no-reboot", false, "after a failed check, mark the slot bad but leave the reboot to the operator")
	f.DurationVar(&env.Timeouts.Firstboot, "firstboot-timeout", upgrade.DefaultFirstbootTimeout, "how long to wait for firstboot.service to finish")
	f.DurationVar(&env.Timeouts.K3s, "k3s-timeout", upgrade.DefaultK3sTimeout, "how long to wait for the K3s unit to be active")
	f.DurationVar(&env.Timeouts.Node, "node-timeout", upgrade.DefaultNodeTimeout, "how long to wait for the node to be Ready")
	f.DurationVar(&env.Timeouts.Platform, "platform-timeout", upgrade.DefaultPlatformTimeout,
		"how long to wait for firstboot-platform.service to finish (it bounds the platform's bring-up itself)")
	f.DurationVar(&env.Timeouts.Poll, "poll", upgrade.DefaultPoll, "how often to look")
	return cmd
}

// rebootNode asks systemd to reboot.
func rebootNode(ctx context.Context) error {
	_, err := agent.ExecRunner{}.Run(ctx, "systemctl", "reboot")
	return err
}
