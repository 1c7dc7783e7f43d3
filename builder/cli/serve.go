package cli

import (
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/internal/bootserver"
)

func newServeCmd() *cobra.Command {
	var (
		opts             bootserver.Options
		mode, rng        string
		serverIP, router string
		dns              []string
		verbose          bool
	)
	cmd := &cobra.Command{
		Use:   "serve --pxe DIR --interface IF [--dhcp-range FIRST-LAST]",
		Short: "Serve a PXE bundle to netbooting workers (HTTP, TFTP, DHCP)",
		Long: "Serve the PXE bundle DIR over HTTP (read-only, with ranges), the iPXE binaries over TFTP\n" +
			"(undionly.kpxe for BIOS, ipxe.efi for x86-64 UEFI; Debian package ipxe), and answer DHCP on\n" +
			"--interface. By default DHCP is proxyDHCP: it runs beside the site's DHCP server and only tells\n" +
			"PXE clients where to boot from. --dhcp-range (or --dhcp full) makes it a full DHCP server for\n" +
			"an isolated network. iPXE clients are sent to the bundle's boot.ipxe over HTTP.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Dir == "" {
				return &usageError{"serve: --pxe is required"}
			}
			if err := serveFlags(&opts, mode, rng, serverIP, router, dns); err != nil {
				return err
			}
			opts.Logger = newLogger(cmd.ErrOrStderr(), verbose)
			srv, err := bootserver.Start(opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s: http %s, tftp %s, dhcp %s; iPXE boot script %s\n",
				opts.Dir, srv.HTTPAddr(), srv.TFTPAddr(), opts.DHCP, srv.BootScriptURL())
			return srv.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "pxe", "", "the PXE bundle directory to serve")
	f.StringVarP(&opts.Interface, "interface", "i", "", "network interface to answer DHCP on")
	f.StringVar(&mode, "dhcp", "", "DHCP mode: proxy (default), full (default with --dhcp-range) or off")
	f.StringVar(&rng, "dhcp-range", "", "addresses to hand out in full DHCP mode, e.g. 10.0.0.100-10.0.0.200")
	f.StringVar(&router, "router", "", "default gateway for full DHCP clients (option 3)")
	f.StringSliceVar(&dns, "dns", nil, "DNS servers for full DHCP clients (option 6)")
	f.StringVar(&opts.LeaseFile, "lease-file", "", "file keeping full DHCP leases across restarts")
	f.StringVar(&serverIP, "server-ip", "", "address clients reach this server on (default: the interface's first IPv4 address)")
	f.StringVar(&opts.HTTPAddr, "http-addr", ":8080", "HTTP listen address")
	f.StringVar(&opts.TFTPAddr, "tftp-addr", ":69", "TFTP listen address")
	f.StringVar(&opts.TFTPDir, "tftp-dir", bootserver.DefaultTFTPDir, "directory holding undionly.kpxe and ipxe.efi")
	f.StringVar(&opts.BootScript, "boot-script", "boot.ipxe", "the iPXE script's path inside the bundle")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	return cmd
}

// serveFlags turns the string flags into opts, reporting bad values as usage errors.
func serveFlags(opts *bootserver.Options, mode, rng, serverIP, router string, dns []string) error {
	opts.DHCP = bootserver.DHCPMode(mode)
	if rng != "" {
		r, err := bootserver.ParseRange(rng)
		if err != nil {
			return &usageError{"serve: --dhcp-range: " + err.Error()}
		}
		opts.Range = r
		if mode == "" {
			opts.DHCP = bootserver.FullDHCP
		}
	}
	switch opts.DHCP {
	case "", bootserver.ProxyDHCP, bootserver.NoDHCP:
		if rng != "" {
			return &usageError{fmt.Sprintf("serve: --dhcp-range needs --dhcp full, not %s", opts.DHCP)}
		}
	case bootserver.FullDHCP:
		if rng == "" {
			return &usageError{"serve: --dhcp full needs --dhcp-range"}
		}
	default:
		return &usageError{fmt.Sprintf("serve: --dhcp %q: want proxy, full or off", mode)}
	}
	if opts.DHCP != bootserver.NoDHCP && opts.Interface == "" {
		return &usageError{"serve: --interface is required unless --dhcp off"}
	}
	for flag, p := range map[string]struct {
		in  string
		out *netip.Addr
	}{"--server-ip": {serverIP, &opts.ServerIP}, "--router": {router, &opts.Router}} {
		if p.in == "" {
			continue
		}
		a, err := netip.ParseAddr(p.in)
		if err != nil || !a.Is4() {
			return &usageError{fmt.Sprintf("serve: %s %q is not an IPv4 address", flag, p.in)}
		}
		*p.out = a
	}
	for _, d := range dns {
		a, err := netip.ParseAddr(d)
		if err != nil || !a.Is4() {
			return &usageError{fmt.Sprintf("serve: --dns %q is not an IPv4 address", d)}
		}
		opts.DNS = append(opts.DNS, a)
	}
	return nil
}
