package site

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// Outputs selects the artifacts a build makes. With none set, the build
// makes a raw disk image of the smallest size that fits.
type Outputs struct {
	// Raw is a GPT disk image to write to a disk or USB stick.
	Raw *RawOutput `yaml:"raw"`
	// ISO is a hybrid ISO image: a CD/DVD or, written to a USB stick, a
	// disk, bootable under BIOS and UEFI, that boots the appliance live.
	ISO *ISOOutput `yaml:"iso"`
	// PXE is a netboot bundle (<output>/pxe/) for `builder serve --pxe`:
	// kernel, initrd, OS image and an iPXE script; the node downloads the
	// OS image into RAM and keeps state in RAM.
	PXE *PXEOutput `yaml:"pxe"`
}

// RawOutput configures the raw disk image.
type RawOutput struct {
	// Size of the image; 0 means the smallest that fits. STATE grows to fill
	// the real disk at first boot.
	Size Size `yaml:"size"`
}

// ISOOutput configures the ISO image. `iso: {}` boots live: the OS image
// is read from the ISO and state lives in RAM.
type ISOOutput struct {
	// Install makes an installer: booting the ISO writes the raw disk
	// layout to a local disk, verifies it and reboots into it.
	Install *DiskTarget `yaml:"install"`
	// State keeps a live node's state on a local disk instead of in RAM.
	State *DiskTarget `yaml:"state"`
}

// PXEOutput configures the PXE bundle (`pxe: {}` for the defaults).
type PXEOutput struct {
	// State keeps a netbooted node's state on a local disk instead of in
	// RAM.
	State *DiskTarget `yaml:"state"`
	// UserData adds a #cloud-config file to the node configs of a role
	// (server or agent): role -> path, relative to site.yaml.
	UserData map[string]string `yaml:"userData"`
	// ServeFromInitServer bakes the bundle into the image: the initial
	// server serves it, with its own OS image, so workers netboot from it.
	ServeFromInitServer bool `yaml:"serveFromInitServer"`
	// Serve is how the initial server serves it.
	Serve PXEServe `yaml:"serve"`
	// AgentToken is AgentTokenServe (the default: the agents' node configs
	// carry the agent join token, so anyone on the PXE network can join an
	// agent) or AgentTokenNone (no node config carries it: a netbooted
	// agent joins only with a token it gets otherwise, from a NoCloud seed
	// or its state disk).
	AgentToken string `yaml:"agentToken"`
}

// Values of PXEOutput.AgentToken.
const (
	AgentTokenServe = "serve"
	AgentTokenNone  = "none"
)

// ServesAgentToken tells whether the bundle's agent node configs carry the
// agent join token.
func (o *PXEOutput) ServesAgentToken() bool { return o.AgentToken != AgentTokenNone }

// PXEServe configures the initial server's boot server.
type PXEServe struct {
	// DHCP is "proxy" (the default: answer PXE clients beside the site's
	// DHCP server), "full" (hand out Range on an isolated network; router
	// and DNS from cluster.network) or "off" (the site's DHCP server
	// points PXE clients at the boot script itself).
	DHCP string `yaml:"dhcp"`
	// Interface to serve DHCP on; "" means the interface of the default
	// route, else the first with an IPv4 address.
	Interface string `yaml:"interface"`
	// Range is full DHCP's address range, "FIRST-LAST".
	Range string `yaml:"range"`
}

// DiskTarget chooses a local disk: the one an installer ISO writes to, or
// the one a live or netbooted node keeps its state on.
type DiskTarget struct {
	// Device is "auto" (the default: the first empty non-removable disk;
	// for state, a disk that already has a STATE partition first),
	// /dev/disk/by-id/<name> or /dev/<name>.
	Device string `yaml:"device"`
	// Force uses a disk that holds data; without it the node says what
	// the disk holds, writes nothing and boots live (or with state in
	// RAM).
	Force bool `yaml:"force"`
}

// Target is the disk as the kernel command line carries it.
func (d DiskTarget) Target() bootparam.InstallTarget {
	return bootparam.InstallTarget{Device: d.Device, Force: d.Force}
}

// StateArg is the appliance.state value for state on d; nil d keeps state
// in RAM.
func (d *DiskTarget) StateArg() string {
	if d == nil {
		return bootparam.StateTmpfs
	}
	return bootparam.StateDiskPrefix + d.Target().String()
}

// sectorSize is the raw image's logical sector size.
const sectorSize = 512

func (o *Outputs) setDefaults(*Site) {
	if *o == (Outputs{}) {
		o.Raw = &RawOutput{}
	}
	if o.PXE != nil && o.PXE.Serve.DHCP == "" {
		o.PXE.Serve.DHCP = "proxy"
	}
	for _, d := range o.diskTargets() {
		if d.target != nil && d.target.Device == "" {
			d.target.Device = bootparam.InstallAuto
		}
	}
}

// diskTargets are the outputs' disk choices with their field paths.
func (o *Outputs) diskTargets() []struct {
	field  string
	target *DiskTarget
} {
	var ds []struct {
		field  string
		target *DiskTarget
	}
	add := func(field string, t *DiskTarget) {
		ds = append(ds, struct {
			field  string
			target *DiskTarget
		}{field, t})
	}
	if o.ISO != nil {
		add("outputs.iso.install", o.ISO.Install)
		add("outputs.iso.state", o.ISO.State)
	}
	if o.PXE != nil {
		add("outputs.pxe.state", o.PXE.State)
	}
	return ds
}

func (o *Outputs) validate(v *validator) {
	if o.Raw != nil && o.Raw.Size%sectorSize != 0 {
		v.errorf("outputs.raw.size", "%d bytes is not a multiple of the %d-byte sector", uint64(o.Raw.Size), sectorSize)
	}
	for _, d := range o.diskTargets() {
		if d.target == nil {
			continue
		}
		if err := checkDiskDevice(d.target.Device); err != nil {
			v.errorf(d.field+".device", "%v", err)
		}
	}
	if o.PXE != nil {
		o.PXE.Serve.validate(v)
		if t := o.PXE.AgentToken; t != "" && t != AgentTokenServe && t != AgentTokenNone {
			v.errorf("outputs.pxe.agentToken", "%q: want %s or %s", t, AgentTokenServe, AgentTokenNone)
		}
		for _, role := range sortedKeys(o.PXE.UserData) {
			field := "outputs.pxe.userData." + role
			if role != nodeconfig.RoleServer && role != nodeconfig.RoleAgent {
				v.errorf(field, "unknown role %q: want %s or %s", role, nodeconfig.RoleServer, nodeconfig.RoleAgent)
				continue
			}
			checkUserData(v, field, o.PXE.UserData[role])
		}
	}
}

func (o *Outputs) resolvePaths(dir string) {
	if o.PXE == nil {
		return
	}
	for role, p := range o.PXE.UserData {
		if p != "" && !filepath.IsAbs(p) {
			o.PXE.UserData[role] = filepath.Join(dir, p)
		}
	}
}

// checkDiskDevice checks a disk target's device: auto, or a path of
// bootparam.CheckDevice's grammar, which is what the kernel command line
// carries (appliance.install=, appliance.state=disk:) and what the node's
// parser (bootparam.ParseInstallTarget) accepts.
func checkDiskDevice(dev string) error {
	switch {
	case dev == bootparam.InstallAuto:
		return nil
	case !strings.HasPrefix(dev, "/dev/"):
		return fmt.Errorf("%q: want %s, /dev/disk/by-id/<name> or /dev/<name>", dev, bootparam.InstallAuto)
	}
	return bootparam.CheckDevice(dev)
}

// ifaceName is a network interface name the kernel accepts (Linux
// net/core/dev.c dev_valid_name: shorter than IFNAMSIZ, 16; no '/', ':' or
// blank; not "." or ".."), kept to the characters real names use.
var ifaceName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

func (p *PXEServe) validate(v *validator) {
	if p.Interface != "" && (!ifaceName.MatchString(p.Interface) || p.Interface == "." || p.Interface == "..") {
		v.errorf("outputs.pxe.serve.interface", "%q: want an interface name: 1 to 15 letters, digits, '_', '.' or '-'", p.Interface)
	}
	switch p.DHCP {
	case "proxy", "off":
	case "full":
		if err := checkRange(p.Range); err != nil {
			v.errorf("outputs.pxe.serve.range", "%v", err)
		}
	default:
		v.errorf("outputs.pxe.serve.dhcp", "%q: want proxy, full or off", p.DHCP)
	}
	if p.DHCP != "full" && p.Range != "" {
		v.errorf("outputs.pxe.serve.range", "only full DHCP hands out addresses (dhcp: full)")
	}
}

// checkRange checks a DHCP range "FIRST-LAST" of IPv4 addresses.
func checkRange(s string) error {
	if s == "" {
		return errors.New("full DHCP needs a range, e.g. 10.0.0.100-10.0.0.200")
	}
	lo, hi, ok := strings.Cut(s, "-")
	first, err1 := netip.ParseAddr(strings.TrimSpace(lo))
	last, err2 := netip.ParseAddr(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || !first.Is4() || !last.Is4() || last.Less(first) {
		return fmt.Errorf("%q: want FIRST-LAST, two IPv4 addresses, the first not above the last", s)
	}
	return nil
}
