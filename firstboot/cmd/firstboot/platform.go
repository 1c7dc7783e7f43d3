package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/bringup"
	"github.com/ml-appliance/appliance/firstboot/etcdsnapshot"
	"github.com/ml-appliance/appliance/firstboot/hostcheck"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgrade"
	"github.com/spf13/cobra"
)

func newPlatformCmd() *cobra.Command {
	var root, console string
	var opts agent.PlatformOptions
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Wait for the ML platform to come up and record its status (run by firstboot-platform.service)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onConsole(cmd, console, "firstboot: error: ", func(out io.Writer) error {
				return agent.RunPlatform(cmd.Context(), agent.NewEnv(root, out), opts)
			})
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "host root directory")
	cmd.Flags().StringVar(&console, "console", "", "also write each line to this terminal")
	cmd.Flags().DurationVar(&opts.APITimeout, "api-timeout", bringup.DefaultAPITimeout, "how long to wait for the K3s API")
	cmd.Flags().DurationVar(&opts.Poll, "poll", bringup.DefaultPoll, "how often to check")
	return cmd
}

// nodeStatus is what `firstboot status` says about the node itself.
type nodeStatus struct {
	Role        string    `json:"role,omitempty"`
	ClusterInit bool      `json:"clusterInit,omitempty"`
	Hostname    string    `json:"hostname,omitempty"`
	Decided     time.Time `json:"decided,omitzero"`
}

// statusReport is the JSON of `firstboot status --output json`.
type statusReport struct {
	Node nodeStatus `json:"node"`
	// Upgrade is the release this node runs and what its A/B slots hold
	// (package upgrade), nil when that cannot be known.
	Upgrade *upgrade.BootStatus `json:"upgrade"`
	// HostCheck is the last check of what K3s needs from this node
	// (package hostcheck), nil before one ran.
	HostCheck *hostcheck.Report `json:"hostCheck"`
	// Images says where the node's images come from, nil before the
	// image-payload step ran.
	Images   *agent.ImagePayloadStatus `json:"images"`
	Platform *bringup.Status           `json:"platform"`

	// EtcdSnapshot is the newest etcd snapshot on a server, or why there
	// is none (package etcdsnapshot).
	EtcdSnapshot etcdsnapshot.Status `json:"etcdSnapshot"`
}

func newStatusCmd() *cobra.Command {
	var root, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print this node's role and, on the initial server, each platform component's state and where to reach it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			rep, err := readStatus(root)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printStatus(w, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "host root directory")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func readStatus(root string) (statusReport, error) {
	var rep statusReport
	role, err := agent.ReadRoleRecord(root)
	if err != nil {
		return rep, err
	}
	rep.Node = nodeStatus{Role: role.Role, ClusterInit: role.ClusterInit, Hostname: role.Hostname, Decided: role.Decided}
	if rep.Upgrade, err = readUpgradeStatus(root); err != nil {
		return rep, err
	}
	if rep.HostCheck, err = agent.ReadHostCheck(root); err != nil {
		return rep, err
	}
	if rep.Images, err = agent.ReadImagePayloadStatus(root); err != nil {
		return rep, err
	}
	_, k3sErr := os.Stat(filepath.Join(root, payload.K3sBinaryPath))
	rep.EtcdSnapshot = etcdsnapshot.Read(etcdsnapshot.Options{Root: root, Role: role.Role, HasK3s: k3sErr == nil})
	s, err := bringup.ReadStatusFile(root + agent.PlatformStatusPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return rep, err
	default:
		rep.Platform = &s
	}
	return rep, nil
}

func printStatus(w io.Writer, rep statusReport) {
	switch {
	case rep.Node.Role == "":
		fmt.Fprintln(w, "node: no role decided yet (firstboot has not got that far)")
	case rep.Node.ClusterInit:
		fmt.Fprintf(w, "node: %s, %s (initial server)\n", rep.Node.Hostname, rep.Node.Role)
	default:
		fmt.Fprintf(w, "node: %s, %s\n", rep.Node.Hostname, rep.Node.Role)
	}
	printUpgradeStatus(w, rep.Upgrade)
	printHostCheck(w, rep.HostCheck)
	if rep.Images != nil {
		fmt.Fprintln(w, rep.Images.Summary())
	} else {
		fmt.Fprintln(w, "images: not checked yet (firstboot has not got that far)")
	}
	fmt.Fprintln(w, rep.EtcdSnapshot.Line())
	switch {
	case rep.Platform != nil:
		fmt.Fprintf(w, "platform (as of %s):\n", rep.Platform.Updated.Format(time.RFC3339))
		bringup.FormatText(w, *rep.Platform)
	case rep.Node.ClusterInit:
		fmt.Fprintln(w, "platform: no status yet: firstboot-platform.service has not reported (see `journalctl -u firstboot-platform`)")
	default:
		fmt.Fprintln(w, "platform: brought up and reported by the initial server; run `firstboot status` there")
	}
}

// printHostCheck writes the host check's summary, then each requirement
// that is missing or warned about.
func printHostCheck(w io.Writer, rep *hostcheck.Report) {
	if rep == nil {
		fmt.Fprintln(w, "host check: none yet (an image without K3s has none; else firstboot has not got that far)")
		return
	}
	fmt.Fprintf(w, "host check (%s, kernel %s): %s\n", rep.Checked.Format(time.RFC3339), rep.Kernel, rep.Summary())
	for _, r := range append(rep.Missing(), rep.Warnings()...) {
		fmt.Fprintln(w, "  "+r.Line())
	}
}
