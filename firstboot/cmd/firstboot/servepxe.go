package main

import (
	"io"
	"log"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/firstboot/pxeserve"
)

func newServePXECmd() *cobra.Command {
	var console string
	var opts pxeserve.Options
	cmd := &cobra.Command{
		Use:   "serve-pxe",
		Short: "Serve the PXE bundle in this image, with this node's OS image, so workers netboot from it (run by appliance-pxe.service)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onConsole(cmd, console, "firstboot: serve-pxe: error: ", func(out io.Writer) error {
				opts.Log = log.New(out, "firstboot: serve-pxe: ", 0)
				p, err := pxeserve.Prepare(opts)
				if err != nil {
					return err
				}
				// One line per request and DHCP exchange: the journal's, not the console's.
				return p.Serve(cmd.Context(), slog.New(slog.NewTextHandler(cmd.OutOrStdout(), nil)))
			})
		},
	}
	cmd.Flags().StringVar(&console, "console", "", "also write the summary lines to this terminal")
	cmd.Flags().StringVar(&opts.BundleDir, "bundle", "", "the image's PXE bundle (default /usr/lib/appliance/pxe)")
	cmd.Flags().StringVar(&opts.OSImage, "os-image", "", "the OS image's device or file (default: the source of /run/appliance/os)")
	cmd.Flags().StringVar(&opts.HTTPAddr, "http", "", "HTTP listen address (default :8080)")
	return cmd
}
