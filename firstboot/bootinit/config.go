// Package bootinit is the logic of appliance-init, the appliance's own
// initramfs init (PID 1 before systemd). It reads the kernel command line,
// loads the early-boot modules, finds the OS image and STATE partitions (or,
// booting live from an ISO, the ISO 9660 volume and the OS image file on it,
// which it attaches to a loop device; state then lives in RAM; or,
// netbooting, brings up the network with DHCP and downloads and verifies
// the OS image into RAM: netboot.go; a live or netbooted node may keep
// its state on a local disk instead, which the init partitions and
// formats on first use: statedisk.go),
// grows STATE to the end of a disk that was flashed to something larger,
// builds the root filesystem (the read-only squashfs under a RAM overlay,
// with the bootparam.PersistentPaths bind-mounted from STATE) and switches
// root to /sbin/init.
//
// Every step takes its roots (sysfs, /dev, the new root, the STATE mount)
// as parameters so it can be tested without being PID 1; Run wires them to
// the real system and never returns.
package bootinit

import (
	"fmt"
	"path"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Spec names a block device the way the kernel command line does.
type Spec struct {
	// Key is "PARTLABEL" (GPT partition name), "LABEL" (filesystem label),
	// "ISO" (the volume ID of an ISO 9660 filesystem) or "PATH" (a /dev path).
	Key   string
	Value string
}

// String gives the spec back in command-line form.
func (s Spec) String() string {
	if s.Key == "PATH" {
		return s.Value
	}
	return s.Key + "=" + s.Value
}

// ParseSpec parses "PARTLABEL=OS-A", "LABEL=STATE" or "/dev/vda2" (a
// path of bootparam.CheckDevice's grammar).
func ParseSpec(s string) (Spec, error) {
	if strings.HasPrefix(s, "/dev/") {
		if err := bootparam.CheckDevice(s); err != nil {
			return Spec{}, err
		}
		return Spec{Key: "PATH", Value: s}, nil
	}
	key, value, ok := strings.Cut(s, "=")
	if !ok || value == "" || (key != "PARTLABEL" && key != "LABEL") {
		return Spec{}, fmt.Errorf("device %q: want PARTLABEL=<name>, LABEL=<name> or /dev/<name>", s)
	}
	return Spec{Key: key, Value: value}, nil
}

// Config is what the kernel command line asks of the init.
type Config struct {
	OS Spec
	// OSFile, for an OS spec with key "ISO", is the path of the squashfs
	// file on that ISO 9660 filesystem; "" means OS is the squashfs itself.
	OSFile string
	// Netboot, when not nil, downloads the OS image over HTTP instead of
	// finding it on a device (appliance.os=url:...); OS is then unset.
	Netboot *NetbootSource
	// State is the STATE device; StateTmpfs keeps state in RAM instead;
	// StateDisk, for a live or netbooted node, names a local disk to keep
	// it on (statedisk.go).
	State      Spec
	StateTmpfs bool
	StateDisk  *bootparam.InstallTarget
	Rescue     bool
	Debug      bool
	// Install, booting from an ISO, writes the raw layout to this disk
	// (install.go); nil boots live.
	Install *bootparam.InstallTarget
}

// ParseConfig reads the appliance.* keys of a kernel command line.
// appliance.os is required; a missing appliance.state means tmpfs.
func ParseConfig(cmdline string) (Config, error) {
	args := bootparam.ParseCmdline(cmdline)
	var c Config
	osArg, ok := args[bootparam.ArgOS]
	if !ok {
		return c, fmt.Errorf("kernel command line has no %s=", bootparam.ArgOS)
	}
	var err error
	if strings.HasPrefix(osArg, bootparam.URLSourceKey+":") {
		if c.Netboot, err = ParseNetbootSource(osArg, args[bootparam.ArgOSBase], args[bootparam.ArgOSSHA256]); err != nil {
			return c, fmt.Errorf("%s: %w", bootparam.ArgOS, err)
		}
	} else if c.OS, c.OSFile, err = parseOSSource(osArg); err != nil {
		return c, fmt.Errorf("%s: %w", bootparam.ArgOS, err)
	}
	switch state, ok := args[bootparam.ArgState]; {
	case !ok || state == bootparam.StateTmpfs:
		c.StateTmpfs = true
	case strings.HasPrefix(state, bootparam.StateDiskPrefix):
		t, err := bootparam.ParseStateDisk(strings.TrimPrefix(state, bootparam.StateDiskPrefix))
		if err != nil {
			return c, err
		}
		if c.Netboot == nil && c.OSFile == "" {
			return c, fmt.Errorf("%s=%s is for live and netbooted nodes; a disk-installed node has STATE on its own disk (%s=PARTLABEL=%s)",
				bootparam.ArgState, state, bootparam.ArgState, bootparam.LabelState)
		}
		c.StateDisk = &t
	default:
		if c.State, err = ParseSpec(state); err != nil {
			return c, fmt.Errorf("%s: %w", bootparam.ArgState, err)
		}
	}
	if target, ok := args[bootparam.ArgInstall]; ok {
		t, err := bootparam.ParseInstallTarget(target)
		if err != nil {
			return c, err
		}
		if c.OSFile == "" {
			return c, fmt.Errorf("%s needs %s=%s=<volume id>:<path>: it installs from an ISO", bootparam.ArgInstall, bootparam.ArgOS, bootparam.ISOSourceKey)
		}
		c.Install = &t
	}
	c.Rescue = args[bootparam.ArgRescue] == "1"
	c.Debug = args[bootparam.ArgDebug] == "1"
	return c, nil
}

// parseOSSource parses appliance.os: a device spec, or ISO=<label>:<path>
// for a squashfs file on an ISO 9660 filesystem.
func parseOSSource(s string) (Spec, string, error) {
	rest, ok := strings.CutPrefix(s, bootparam.ISOSourceKey+"=")
	if !ok {
		spec, err := ParseSpec(s)
		return spec, "", err
	}
	label, file, ok := strings.Cut(rest, ":")
	if !ok || label == "" || !strings.HasPrefix(file, "/") || path.Clean(file) != file {
		return Spec{}, "", fmt.Errorf("%q: want ISO=<volume id>:<absolute path of the OS image on it>", s)
	}
	return Spec{Key: bootparam.ISOSourceKey, Value: label}, file, nil
}
