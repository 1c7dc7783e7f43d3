// Package pxe is the PXE bundle output: the directory `builder serve --pxe`
// serves, from which machines netboot the appliance.
//
// Layout of <output>/pxe/:
//
//	boot.ipxe            the iPXE script the boot server hands to iPXE
//	vmlinuz              kernel, initrd: fetched by iPXE over HTTP
//	initrd
//	os.squashfs          the OS image (a hard link to the build's when it can be)
//	os.squashfs.sha256   its digest, in sha256sum's format
//	nodes/<role>.yaml    node configs (#cloud-config) for roles server and
//	nodes/<host>.yaml    agent, and for inventory nodes with a MAC (nodes.go)
//
// The script names every file relative to its own URL: iPXE resolves a
// relative URI against the current working URI, which is the script's URL
// while it runs, so `kernel vmlinuz` works for any server address and port.
// The init cannot do the same by itself, so the kernel command line passes
// appliance.os=url:os.squashfs and appliance.os.base=${filename}: iPXE
// expands ${filename} to the boot file DHCP gave it, which is the script's
// URL when our boot server (or any DHCP server set up the same way) chained
// it. (iPXE's ${cwduri} would be exact, but it is newer than the iPXE
// builds Debian 12 ships, in QEMU's ROMs too.) appliance.os.sha256 carries
// the image's digest; the init refuses an image that does not match.
// The node config goes the same way: firstboot.config=nodes/<name>.yaml,
// resolved by firstboot against appliance.os.base, with its digest.
// State lives in RAM (appliance.state=tmpfs) unless Options.State names a
// local disk. The OS image is never put in the initramfs: the init
// downloads it into a tmpfs of its own.
package pxe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// DirName is the bundle's directory in the output directory.
const DirName = "pxe"

// Format writes the PXE bundle.
type Format struct{ opts Options }

// Options are the site's choices for netbooted nodes.
type Options struct {
	// State is the appliance.state value: bootparam.StateTmpfs ("" means
	// it) or a state disk (bootparam.StateDiskPrefix).
	State string
	// DefaultRole is the role of a node the inventory does not list.
	DefaultRole string
	// Nodes are the inventory; those with a MAC get a node config of their own.
	Nodes []Node
	// UserData is #cloud-config content per role, added to its node configs.
	UserData map[string][]byte
	// WithholdAgentToken leaves output.Inputs.AgentJoinToken out of every
	// node config (site outputs.pxe.agentToken: none).
	WithholdAgentToken bool
}

// servedToken is the token the agents' node configs carry: none when the
// site withholds it.
func (o Options) servedToken(in output.Inputs) string {
	if o.WithholdAgentToken {
		return ""
	}
	return in.AgentJoinToken
}

// New returns the PXE bundle format.
func New(opts Options) *Format { return &Format{opts: opts} }

// Name implements output.Format.
func (*Format) Name() string { return "pxe" }

// Layout describes a written bundle (the build report's details).
type Layout struct {
	// Cmdline is the kernel command line in boot.ipxe, before iPXE
	// expands ${filename}.
	Cmdline string `json:"cmdline"`
	// OSImageSHA256 is the digest the init checks the download against.
	OSImageSHA256 string `json:"osImageSHA256"`
	// NodeConfigs are the bundle's node configs (paths in it).
	NodeConfigs []string `json:"nodeConfigs"`
	// AgentTokenConfigs are those of NodeConfigs that hold the agent join
	// token (the agents'): anyone who can fetch them can join an agent.
	AgentTokenConfigs []string `json:"agentTokenConfigs,omitempty"`
}

// Build implements output.Format. The bundle is staged as one directory and
// replaces the previous build's at commit, in one step (package outdir).
func (f *Format) Build(ctx context.Context, in output.Inputs, dir *outdir.Dir) ([]report.Artifact, error) {
	layout, err := Write(ctx, dir.Path(DirName), in, f.opts)
	if err != nil {
		return nil, err
	}
	var arts []report.Artifact
	for _, f := range []struct{ kind, name string }{
		{"pxe-script", bootparam.PXEBootScript},
		{"kernel", bootparam.PXEKernel},
		{"initramfs", bootparam.PXEInitrd},
	} {
		a, err := report.Describe(f.kind, filepath.Join(dir.Path(DirName), f.name), DirName+"/"+f.name)
		if err != nil {
			return nil, err
		}
		if f.kind == "pxe-script" {
			a.Details = layout
		}
		arts = append(arts, a)
	}
	for _, c := range layout.AgentTokenConfigs {
		a, err := report.Describe("node-config", filepath.Join(dir.Path(DirName), c), DirName+"/"+c)
		if err != nil {
			return nil, err
		}
		a.Secrets = report.SecretsAgentToken
		arts = append(arts, a)
	}
	// Hashed once already by Write: the image may be gigabytes.
	info, err := os.Stat(filepath.Join(dir.Path(DirName), bootparam.PXEOSImage))
	if err != nil {
		return nil, fmt.Errorf("pxe: %w", err)
	}
	return append(arts, report.Artifact{
		Kind: "os-image", Path: DirName + "/" + bootparam.PXEOSImage, Size: info.Size(), SHA256: layout.OSImageSHA256,
	}), nil
}

// Write makes the bundle in the directory path, which must not exist.
func Write(ctx context.Context, path string, in output.Inputs, opts Options) (Layout, error) {
	opts = withDefaults(opts)
	if err := checkInputs(in, opts); err != nil {
		return Layout{}, fmt.Errorf("pxe: %w", err)
	}
	configs, err := nodeConfigs(in.Name, opts.servedToken(in), opts)
	if err != nil {
		return Layout{}, fmt.Errorf("pxe: %w", err)
	}
	for _, d := range []string{path, filepath.Join(path, NodesDir)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return Layout{}, fmt.Errorf("pxe: %w", err)
		}
	}
	for _, f := range []struct{ src, name string }{
		{in.Kernel, bootparam.PXEKernel},
		{in.Initramfs, bootparam.PXEInitrd},
		{in.OSImage, bootparam.PXEOSImage},
	} {
		if err := ctx.Err(); err != nil {
			return Layout{}, err
		}
		if err := linkOrCopy(f.src, filepath.Join(path, f.name)); err != nil {
			return Layout{}, fmt.Errorf("pxe: %s: %w", f.name, err)
		}
	}
	_, digest, err := report.HashFile(filepath.Join(path, bootparam.PXEOSImage))
	if err != nil {
		return Layout{}, fmt.Errorf("pxe: %w", err)
	}
	l := Layout{OSImageSHA256: digest}
	if l.Cmdline, err = Cmdline(digest, opts.State, in.Cmdline); err != nil {
		return Layout{}, fmt.Errorf("pxe: %w", err)
	}
	script, err := bootScript(in.Name, opts, configs, l.Cmdline)
	if err != nil {
		return Layout{}, fmt.Errorf("pxe: %w", err)
	}
	files := map[string]string{
		bootparam.PXEOSImage + ".sha256": digest + "  " + bootparam.PXEOSImage + "\n",
		bootparam.PXEBootScript:          script,
	}
	for _, c := range configs {
		files[c.name] = string(c.data)
		l.NodeConfigs = append(l.NodeConfigs, c.name)
		if c.agentToken {
			l.AgentTokenConfigs = append(l.AgentTokenConfigs, c.name)
		}
	}
	if err := writeFiles(path, files, agentTokenFiles(configs), in); err != nil {
		return Layout{}, err
	}
	return l, nil
}

// agentTokenFiles are the names of configs that hold the agent join token:
// written 0600, so only the boot server (root) reads them on its host.
func agentTokenFiles(configs []nodeConfig) map[string]bool {
	names := map[string]bool{}
	for _, c := range configs {
		if c.agentToken {
			names[c.name] = true
		}
	}
	return names
}

func withDefaults(opts Options) Options {
	if opts.State == "" {
		opts.State = bootparam.StateTmpfs
	}
	if opts.DefaultRole == "" {
		opts.DefaultRole = nodeconfig.RoleAgent
	}
	// One order for the node configs and the script's MAC lines.
	opts.Nodes = append([]Node(nil), opts.Nodes...)
	sort.Slice(opts.Nodes, func(i, j int) bool { return opts.Nodes[i].Hostname < opts.Nodes[j].Hostname })
	return opts
}

// writeFiles writes files (path in dir -> content) with in.ModTime, 0644,
// or 0600 for the names in private.
func writeFiles(dir string, files map[string]string, private map[string]bool, in output.Inputs) error {
	for name, content := range files {
		mode := os.FileMode(0o644)
		if private[name] {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return fmt.Errorf("pxe: %w", err)
		}
	}
	if !in.ModTime.IsZero() {
		for name := range files {
			if err := os.Chtimes(filepath.Join(dir, name), in.ModTime, in.ModTime); err != nil {
				return fmt.Errorf("pxe: %w", err)
			}
		}
	}
	return nil
}

// argConfigSHA256 is firstboot's key for the node config's digest.
const argConfigSHA256 = bootparam.ArgConfigSHA256

// Cmdline is the kernel command line of a netbooted node; ${filename},
// ${nodecfg} and ${nodecfgsum} are left for iPXE to expand. osSHA256 is
// the OS image's digest (or payload.PXEOSDigest in the template an initial
// server fills in), state a live node's appliance.state; a value outside
// its grammar is refused (scriptvalues.go).
func Cmdline(osSHA256, state string, extra []string) (string, error) {
	if osSHA256 != payload.PXEOSDigest {
		if err := bootparam.CheckSHA256(osSHA256); err != nil {
			return "", fmt.Errorf("OS image digest: %w", err)
		}
	}
	if err := output.CheckLiveState(state); err != nil {
		return "", err
	}
	args := []string{
		bootparam.ArgOS + "=" + bootparam.URLSourceKey + ":" + bootparam.PXEOSImage,
		argOSBase,
		bootparam.ArgOSSHA256 + "=" + osSHA256,
		bootparam.ArgState + "=" + state,
		argNodeConfig,
		argConfigSum,
	}
	for i, arg := range extra {
		// Checked one by one: joined, "a b" would pass as two.
		if err := bootparam.CheckArg(arg); err != nil {
			return "", fmt.Errorf("kernel command line: argument %d: %w", len(args)+i+1, err)
		}
	}
	cmdline := strings.Join(append(args, extra...), " ")
	if err := checkKernelLine(cmdline); err != nil {
		return "", err
	}
	return cmdline, nil
}

// bootScript is the iPXE boot script. initrd=<name> on the kernel's
// command line is for UEFI: the kernel's EFI stub loads the initrd iPXE
// downloaded by that name (iPXE before 2021 offers it no other way);
// booted by BIOS, the kernel gets the initrd from iPXE directly and
// ignores the argument. A failed download or boot says so and starts over
// after 5 seconds, so a node waits out a busy or restarting server instead
// of falling through to the next boot device. (sleep and imgfree may be
// left out of an iPXE build: each is allowed to fail.) A nodecfg that is
// not one of the bundle's configs (nodeSelection leaves nodecfgsum unset)
// is said and never booted with. name, the node selection and cmdline are
// checked against their grammars (scriptvalues.go) first.
func bootScript(name string, opts Options, configs []nodeConfig, cmdline string) (string, error) {
	if err := output.CheckName(name); err != nil {
		return "", err
	}
	if err := checkKernelLine(cmdline); err != nil {
		return "", err
	}
	selection, err := nodeSelection(opts, configs)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`#!ipxe
# %s: netboot the appliance. File names are relative to this script's URL.
# The node config: this MAC's, else ${nodecfg} if already set, else the
# default role's; only one of this bundle's, by its exact name.
%s:boot
isset ${nodecfgsum} || goto badcfg
echo Booting %s over the network with ${nodecfg}
kernel %s initrd=%s %s || goto retry
initrd %s || goto retry
boot || goto retry
:retry
echo %s: netboot failed (see above); retrying in 5 seconds
imgfree ||
sleep 5 ||
goto boot
:badcfg
echo %s: not booting with nodecfg ${nodecfg}
echo %s: it is not one of this bundle's node configs
goto retry
`, name, selection, name, bootparam.PXEKernel, bootparam.PXEInitrd, cmdline, bootparam.PXEInitrd, name, name, name), nil
}

// checkInputs checks, before anything is written, every value of in and
// opts that reaches the script, the kernel line or a file name.
func checkInputs(in output.Inputs, opts Options) error {
	if err := in.CheckBootValues(); err != nil {
		return err
	}
	return checkOptions(opts)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
