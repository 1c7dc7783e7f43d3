package output

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Values of Inputs that boot loader configs, the iPXE script and file names
// carry. builder validate checks the site's values against the same
// grammars (builder/site); each format checks them again before writing,
// so a caller that skipped validation cannot put a line break into a
// loader entry, a command into the iPXE script or a "/" into a file name.

// siteName is a DNS label (RFC 1123), as site.yaml's metadata.name.
var siteName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// kernelRelease is a kernel release as `uname -r` prints it and Debian
// names its packages: letters, digits and . _ + ~ -.
var kernelRelease = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$`)

// CheckName checks an artifact base name (the site's name): a DNS label.
// It names files, titles boot menu entries and is echoed by the iPXE
// script.
func CheckName(name string) error {
	if !siteName.MatchString(name) {
		return fmt.Errorf("name %q: want a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", name)
	}
	return nil
}

// CheckBootValues checks Name (CheckName), KernelVersion (a loader
// entry's version line: "" or a kernel release) and Cmdline (each argument
// bootparam.CheckArg's, at most bootparam.MaxExtraLen bytes together).
func (in Inputs) CheckBootValues() error {
	if err := CheckName(in.Name); err != nil {
		return err
	}
	if in.KernelVersion != "" && !kernelRelease.MatchString(in.KernelVersion) {
		return fmt.Errorf("kernel version %q: want a kernel release of letters, digits and . _ + ~ -", in.KernelVersion)
	}
	if err := bootparam.CheckCmdline("operator's kernel arguments", in.Cmdline); err != nil {
		return err
	}
	if n := len(strings.Join(in.Cmdline, " ")); n > bootparam.MaxExtraLen {
		return fmt.Errorf("operator's kernel arguments: %d bytes, more than %d", n, bootparam.MaxExtraLen)
	}
	return nil
}

// CheckLiveState checks the appliance.state value of a live or netbooted
// node: bootparam.StateTmpfs or bootparam.StateDiskPrefix and a disk
// target the node parses back to the same target.
func CheckLiveState(state string) error {
	if state == bootparam.StateTmpfs {
		return nil
	}
	disk, ok := strings.CutPrefix(state, bootparam.StateDiskPrefix)
	if !ok {
		return fmt.Errorf("state %q: want %s or %s<disk>", state, bootparam.StateTmpfs, bootparam.StateDiskPrefix)
	}
	t, err := bootparam.ParseStateDisk(disk)
	if err != nil {
		return err
	}
	if t.String() != disk {
		return fmt.Errorf("state %q: reads back as %q", state, t.String())
	}
	return nil
}
