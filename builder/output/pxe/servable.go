package pxe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/bootserver"
)

// The bundle an initial server serves (outputs.pxe.serveFromInitServer)
// goes into the OS image (payload.PXEDir), which therefore cannot hold the
// OS image itself nor know its digest: the script is a template with
// payload.PXEOSDigest where the digest goes, and `firstboot serve-pxe`
// serves the node's own OS image and fills the digest in (package
// firstboot/pxeserve).

// TFTPBinaries are the iPXE binaries the boot server hands to PXE ROMs,
// from the build host's iPXE package.
var TFTPBinaries = []string{bootserver.BIOSBootFile, bootserver.EFIBootFile}

// DefaultTFTPSource is where Debian's ipxe package installs them.
const DefaultTFTPSource = bootserver.DefaultTFTPDir

// ServableOptions are Options plus how the initial server serves.
type ServableOptions struct {
	Options
	Serve payload.PXEServeConfig
	// TFTPSource holds TFTPBinaries (default DefaultTFTPSource).
	TFTPSource string
}

// WriteServable writes the in-image bundle into dir, which must not exist:
// kernel, initramfs, node configs, the script template, serve.json and
// the iPXE binaries under tftp/.
func WriteServable(ctx context.Context, dir string, in output.Inputs, opts ServableOptions) error {
	if opts.TFTPSource == "" {
		opts.TFTPSource = DefaultTFTPSource
	}
	o := withDefaults(opts.Options)
	if err := checkInputs(in, o); err != nil {
		return fmt.Errorf("pxe: %w", err)
	}
	configs, err := nodeConfigs(in.Name, o.servedToken(in), o)
	if err != nil {
		return fmt.Errorf("pxe: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, NodesDir), filepath.Join(dir, payload.PXETFTPDir)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("pxe: %w", err)
		}
	}
	links := []struct{ src, name string }{
		{in.Kernel, bootparam.PXEKernel},
		{in.Initramfs, bootparam.PXEInitrd},
	}
	for _, b := range TFTPBinaries {
		links = append(links, struct{ src, name string }{filepath.Join(opts.TFTPSource, b), payload.PXETFTPDir + "/" + b})
	}
	for _, l := range links {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := linkOrCopy(l.src, filepath.Join(dir, l.name)); err != nil {
			return fmt.Errorf("pxe: %s: %w", l.name, err)
		}
	}
	serve, err := json.MarshalIndent(opts.Serve, "", "  ")
	if err != nil {
		return err
	}
	cmdline, err := Cmdline(payload.PXEOSDigest, o.State, in.Cmdline)
	if err != nil {
		return fmt.Errorf("pxe: %w", err)
	}
	script, err := bootScript(in.Name, o, configs, cmdline)
	if err != nil {
		return fmt.Errorf("pxe: %w", err)
	}
	files := map[string]string{
		payload.PXEServeConfigFile: string(serve) + "\n",
		payload.PXEScriptTemplate:  script,
	}
	for _, c := range configs {
		files[c.name] = string(c.data)
	}
	return writeFiles(dir, files, agentTokenFiles(configs), in)
}
