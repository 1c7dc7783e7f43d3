package bootparam

import (
	"fmt"
	"strings"
)

// Install mode of the ISO: the builder puts the pieces of the raw disk
// layout on the ISO and names the target disk on the kernel command line;
// the init writes the layout to that disk and reboots into it.

// ArgInstall is the kernel argument that turns a live ISO boot into an
// install: appliance.install=<device>[,force], where <device> is
// InstallAuto, /dev/disk/by-id/<name> or /dev/<name>.
const ArgInstall = "appliance.install"

// InstallAuto picks the first empty non-removable disk.
const InstallAuto = "auto"

// installForce is the suffix that lets the install overwrite a disk that
// holds data.
const installForce = "force"

// Paths on the ISO of what an install writes besides ISOOSImagePath,
// ISOSecretsPath and ISOPayloadPath (files a live boot reads too).
const (
	InstallLayoutPath = "/install/layout.json"
	InstallESPImage   = "/install/esp.img"
	InstallStateImage = "/install/state.img"
)

// InstallTarget is the value of ArgInstall.
type InstallTarget struct {
	// Device is InstallAuto or a /dev path.
	Device string
	// Force allows overwriting a disk that holds data.
	Force bool
}

// String gives the target back in command-line form.
func (t InstallTarget) String() string {
	if t.Force {
		return t.Device + "," + installForce
	}
	return t.Device
}

// ParseInstallTarget parses "auto", "/dev/sda,force" and the like. A
// device path keeps to CheckDevice's grammar.
func ParseInstallTarget(s string) (InstallTarget, error) {
	return parseDiskTarget(ArgInstall, "", s)
}

// StateDiskPrefix prefixes an appliance.state value that keeps state on a
// local disk of a live or netbooted node: "disk:auto", "disk:/dev/sdb",
// "disk:/dev/disk/by-id/<name>,force". The init reuses the disk's
// partition named STATE, or makes one on an empty disk (any disk with
// force) and formats it.
const StateDiskPrefix = "disk:"

// ParseStateDisk parses the part of an appliance.state value after
// StateDiskPrefix; the syntax is an install target's.
func ParseStateDisk(s string) (InstallTarget, error) {
	return parseDiskTarget(ArgState, StateDiskPrefix, s)
}

// parseDiskTarget parses s, the value of the argument key after prefix.
func parseDiskTarget(key, prefix, s string) (InstallTarget, error) {
	arg := printable(key + "=" + prefix + s)
	dev, opt, hasOpt := strings.Cut(s, ",")
	t := InstallTarget{Device: dev}
	if hasOpt {
		if opt != installForce {
			return t, fmt.Errorf("%s: unknown option %q, want %q", arg, opt, installForce)
		}
		t.Force = true
	}
	if dev == InstallAuto {
		return t, nil
	}
	if !strings.HasPrefix(dev, "/dev/") || len(dev) == len("/dev/") {
		return t, fmt.Errorf("%s: want %s, /dev/disk/by-id/<name> or /dev/<name>, optionally followed by ,%s", arg, InstallAuto, installForce)
	}
	if err := CheckDevice(dev); err != nil {
		return t, fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

// InstallLayout is /install/layout.json: the raw image's GPT, and for each
// partition what the installer writes at its start.
type InstallLayout struct {
	// SectorSize is the logical sector size the LBAs count in.
	SectorSize int64 `json:"sectorSize"`
	// DiskGUID is the GPT disk GUID.
	DiskGUID string `json:"diskGUID"`
	// Partitions in GPT order (number 1 first).
	Partitions []InstallPartition `json:"partitions"`
}

// InstallPartition is one GPT partition and its content.
type InstallPartition struct {
	Name       string `json:"name"`
	TypeGUID   string `json:"typeGUID"`
	UniqueGUID string `json:"uniqueGUID"`
	FirstLBA   int64  `json:"firstLBA"`
	Sectors    int64  `json:"sectors"`
	// Attributes are the GPT attribute bits (GPTReadOnly for PAYLOAD).
	Attributes GPTAttributes `json:"attributes,omitempty"`
	// Source is the absolute ISO path of the image written at the
	// partition's start; "" means the partition is zeroed.
	Source string `json:"source,omitempty"`
	// Size and SHA256 (hex) are those of Source's bytes.
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// printable is s for an error message: as it is when it keeps to CheckArg's
// bytes, else quoted with Go's escapes, so no control byte reaches a
// console.
func printable(s string) string {
	if _, _, bad := badArgByte(s); bad {
		return fmt.Sprintf("%q", s)
	}
	return s
}
