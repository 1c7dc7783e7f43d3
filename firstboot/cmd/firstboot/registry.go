package main

import (
	"errors"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/internal/sdnotify"
)

func newRegistryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "The image payload's registry",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRegistryServeCmd())
	return cmd
}

func newRegistryServeCmd() *cobra.Command {
	var root, console, path string
	opts := imagepayload.ServeOptions{}
	cmd := &cobra.Command{
		Use: "serve",
		Short: "Serve the image payload read-only over the OCI distribution API (run by appliance-registry.service); " +
			"by default the one firstboot found at boot, on the address it chose",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onConsole(cmd, console, "firstboot: registry: error: ", func(out io.Writer) error {
				opts.Root, opts.Log = root, log.New(out, "firstboot: registry: ", 0)
				if err := serveTarget(root, path, &opts); err != nil {
					return err
				}
				// One line per request: the journal's, not the console's.
				opts.RequestLog = slog.New(slog.NewTextHandler(cmd.OutOrStdout(), nil))
				opts.Ready = func() error { return sdnotify.Ready(os.Getenv("NOTIFY_SOCKET")) }
				return imagepayload.Serve(cmd.Context(), opts)
			})
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "host root directory")
	cmd.Flags().StringVar(&console, "console", "", "also write the summary lines to this terminal")
	cmd.Flags().StringVar(&path, "payload", "",
		"the payload's tar: a file, or a block device (a path under /dev); default: where firstboot found it ("+agent.ImagePayloadStatusPath+")")
	cmd.Flags().StringVar(&opts.Listen, "listen", "", "TCP address (default: the one firstboot chose, all addresses on a server, 127.0.0.1 on an agent)")
	return cmd
}

// serveTarget fills in the descriptor, and the payload and address the
// flags leave out from the image-payload step's record.
func serveTarget(root, path string, opts *imagepayload.ServeOptions) error {
	d, err := imagepayload.ReadDescriptor(root)
	if err != nil {
		return err
	}
	opts.Descriptor = d
	if path != "" {
		opts.Location = imagepayload.Location{Kind: imagepayload.KindFile, Path: path}
		if strings.HasPrefix(path, "/dev/") {
			opts.Location.Kind = imagepayload.KindDevice
		}
		return nil
	}
	st, err := agent.ReadImagePayloadStatus(root)
	switch {
	case err != nil:
		return err
	case st == nil || st.Location == nil:
		return errors.New("firstboot found no payload to serve on this boot (`firstboot status`); name one with --payload")
	case st.Index != d.Index:
		return errors.New("firstboot's record is of payload " + st.Index + ", this OS image names " + d.Index + ": run `systemctl restart firstboot`")
	}
	opts.Location = *st.Location
	if opts.Listen == "" {
		opts.Listen = st.Listen
	}
	return nil
}
