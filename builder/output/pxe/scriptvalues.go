package pxe

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// What boot.ipxe carries besides fixed text, and the grammar each keeps to
// so that iPXE reads it as the builder meant. iPXE splits a script line
// into tokens at blanks before it expands any setting (ipxe/ipxe
// src/core/exec.c, system and split_command, commit 0062c07d); a token
// that starts with '#' ends the line and a token "||", "&&" or ";" ends
// the command (command_terminator); then every "${name}" in a token is
// replaced by the setting's value and the token rescanned
// (src/core/settings.c expand_settings, commit 31e60de6). So a value the
// builder writes must hold no blank, no line break and no '$', and a
// value iPXE expands at boot (${nodecfg}, which a site's DHCP server may
// set) must never reach the kernel unchecked: the script passes on only
// a nodecfg equal to one of the bundle's own config names (nodeSelection).
//
//	site name        output.CheckName (a DNS label): comments, echo lines
//	hostname         output.CheckName: nodes/<hostname>.yaml, set nodecfg
//	MAC              canonicalMAC: iseq ${mac} <mac>; iPXE prints ${mac}
//	                 (type hex) as lower-case pairs joined by ':'
//	                 (src/core/settings.c, format_hex_colon_setting;
//	                 builder/e2e/ipxescript_test.go matches one in iPXE)
//	role             server or agent: nodes/<role>.yaml
//	kernel arguments bootparam.CheckArg, except the three expansions below

// canonicalMAC is an EUI-48 address as iPXE formats ${mac}.
var canonicalMAC = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// Arguments of the kernel line that iPXE completes at boot.
const (
	argOSBase     = bootparam.ArgOSBase + "=${filename}"
	argNodeConfig = bootparam.ArgConfig + "=${nodecfg}"
	argConfigSum  = "${nodecfgsum}"
)

// expansionReserve is room on the command line for what iPXE expands:
// "initrd=initrd ", the script's URL (${filename}), a node config name and
// "firstboot.config.sha256=<64 hex>".
const expansionReserve = 512

func checkRole(role string) error {
	if role != nodeconfig.RoleServer && role != nodeconfig.RoleAgent {
		return fmt.Errorf("role %q: want %s or %s", role, nodeconfig.RoleServer, nodeconfig.RoleAgent)
	}
	return nil
}

// checkNode checks an inventory node's values that the script and the
// bundle's file names carry.
func checkNode(n Node) error {
	if err := output.CheckName(n.Hostname); err != nil {
		return fmt.Errorf("inventory node hostname: %w", err)
	}
	if n.MAC != "" && !canonicalMAC.MatchString(n.MAC) {
		return fmt.Errorf("inventory node %s: MAC %q: want six lower-case hex pairs joined by ':'", n.Hostname, n.MAC)
	}
	if err := checkRole(n.Role); err != nil {
		return fmt.Errorf("inventory node %s: %w", n.Hostname, err)
	}
	return nil
}

// checkOptions checks everything of opts that reaches the script, the
// kernel line or a file name.
func checkOptions(opts Options) error {
	if err := output.CheckLiveState(opts.State); err != nil {
		return err
	}
	if err := checkRole(opts.DefaultRole); err != nil {
		return fmt.Errorf("default %w", err)
	}
	for _, n := range opts.Nodes {
		if err := checkNode(n); err != nil {
			return err
		}
	}
	return nil
}

// checkKernelLine checks a netboot command line as Cmdline makes it: every
// argument bootparam.CheckArg's but the ones iPXE completes, and room left
// for what they expand to.
func checkKernelLine(cmdline string) error {
	for i, arg := range strings.Split(cmdline, " ") {
		switch arg {
		case argOSBase, argNodeConfig, argConfigSum:
			continue
		}
		if err := bootparam.CheckArg(arg); err != nil {
			return fmt.Errorf("kernel command line: argument %d: %w", i+1, err)
		}
	}
	if n := len(cmdline) + expansionReserve; n > bootparam.MaxCmdlineLen {
		return fmt.Errorf("kernel command line: %d bytes and %d for what iPXE expands, more than the kernel's %d", len(cmdline), expansionReserve, bootparam.MaxCmdlineLen)
	}
	return nil
}
