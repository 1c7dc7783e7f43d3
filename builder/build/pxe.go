package build

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/builder/doctor"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/output/pxe"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// pxeOptions are the bundle's choices from the site: state, roles and the
// operator's per-role user-data (checked when the site was validated).
func pxeOptions(s *site.Site, o *site.PXEOutput) (pxe.Options, error) {
	opts := pxe.Options{
		State: o.State.StateArg(), DefaultRole: s.Cluster.DefaultRole, UserData: map[string][]byte{},
		WithholdAgentToken: !o.ServesAgentToken(),
	}
	for _, n := range s.Cluster.Nodes {
		opts.Nodes = append(opts.Nodes, pxe.Node{Hostname: n.Hostname, MAC: n.MAC, Role: n.Role})
	}
	for role, path := range o.UserData {
		data, err := site.ReadUserData(path)
		if err != nil {
			return opts, fmt.Errorf("outputs.pxe.userData.%s: %w", role, err)
		}
		opts.UserData[role] = data
	}
	return opts, nil
}

// servesPXE tells whether the image carries the PXE bundle for its
// initial server to serve.
func servesPXE(s *site.Site) bool {
	return s.Outputs.PXE != nil && s.Outputs.PXE.ServeFromInitServer
}

// addServableBundle puts the bundle the initial server serves into the
// image (payload.PXEDir). The kernel and initramfs must be written. The
// bundle does not carry the image payload: netbooted nodes pull images
// from the servers.
func (b *pipeline) addServableBundle(ctx context.Context, tree *rootfs.Tree, in output.Inputs) error {
	in.Payload, in.PayloadSHA256, in.PayloadSize = "", "", 0
	o := b.site.Outputs.PXE
	opts, err := pxeOptions(b.site, o)
	if err != nil {
		return err
	}
	serve := payload.PXEServeConfig{DHCP: o.Serve.DHCP, Interface: o.Serve.Interface, Range: o.Serve.Range}
	if o.Serve.DHCP == "full" {
		serve.Router, serve.DNS = b.site.Cluster.Network.Gateway, b.site.Cluster.Network.DNS
	}
	dir := filepath.Join(b.scratch, "pxe-in-image")
	if err := pxe.WriteServable(ctx, dir, in, pxe.ServableOptions{Options: opts, Serve: serve}); err != nil {
		return err
	}
	b.log.Info("adding the PXE bundle for the initial server", "path", payload.PXEDir, "dhcp", serve.DHCP)
	return tree.AddDir(dir, strings.TrimPrefix(payload.PXEDir, "/"), rootfs.DirOptions{Origin: "pxe-bundle", RefuseSymlinks: true})
}

// pxeTools are the host files a bundle in the image needs.
func pxeTools() []doctor.Tool {
	var tools []doctor.Tool
	for _, f := range pxe.TFTPBinaries {
		tools = append(tools, doctor.Tool{Command: filepath.Join(pxe.DefaultTFTPSource, f), Package: "ipxe", Purpose: "iPXE for netboot (builder serve; outputs.pxe.serveFromInitServer)"})
	}
	return tools
}
