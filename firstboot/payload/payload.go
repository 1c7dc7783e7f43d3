// Package payload lists what the builder must add to the OS image so that
// firstboot runs on every boot: its systemd unit, the unit's enablement
// symlink, an sshd_config.d snippet that points sshd at the host keys
// firstboot generates on STATE, and one that allows keys only (sshd.go). The builder installs the firstboot binary
// itself at BinaryPath.
//
// It is a contract package: the builder imports it, and firstboot imports it
// for the paths both sides must agree on. It holds data, no logic.
package payload

import (
	_ "embed"
	"io/fs"
	"strings"
)

// BinaryPath is where the builder installs the firstboot binary; the unit's
// ExecStart runs it.
const BinaryPath = "/usr/local/bin/firstboot"

// UnitName is the systemd unit of the agent.
const UnitName = "firstboot.service"

// PlatformUnitName is the unit that brings the platform up on the initial
// server. It is not enabled: firstboot starts it (without waiting) once it
// has started K3s, so the boot does not wait for the platform.
const PlatformUnitName = "firstboot-platform.service"

// Paths of the files Files returns.
const (
	UnitPath         = "/usr/lib/systemd/system/" + UnitName
	PlatformUnitPath = "/usr/lib/systemd/system/" + PlatformUnitName
	UnitWantsPath    = "/etc/systemd/system/multi-user.target.wants/" + UnitName
	SSHDSnippetPath  = "/etc/ssh/sshd_config.d/appliance-host-keys.conf"
	// MachineIDCommitMask masks systemd-machine-id-commit.service. That unit
	// writes a transient machine-id (one on a mount) to the root filesystem;
	// here the init bind-mounts a persistent one from STATE, the root is a
	// read-only image, and the unit would only fail at every boot.
	MachineIDCommitMask = "/etc/systemd/system/systemd-machine-id-commit.service"
)

// SSHHostKeyDir holds the node's SSH host keys. It is under /var, so the keys
// persist on STATE while /etc/ssh stays the image's.
const SSHHostKeyDir = "/var/lib/appliance/ssh"

// SSHHostKeyTypes are the host key types firstboot generates, in the order
// sshd offers them. Key files are SSHHostKeyDir/ssh_host_<type>_key.
var SSHHostKeyTypes = []string{"ed25519", "rsa"}

// SSHHostKeyPath is the private key file of a host key type.
func SSHHostKeyPath(keyType string) string {
	return SSHHostKeyDir + "/ssh_host_" + keyType + "_key"
}

//go:embed firstboot.service
var unit string

//go:embed firstboot-platform.service
var platformUnit string

//go:embed appliance-pxe.service
var pxeUnit string

// File is one file of the payload. A symlink has Mode with fs.ModeSymlink set
// and Linkname; a regular file has Content.
type File struct {
	Path     string
	Mode     fs.FileMode
	Content  []byte
	Linkname string
}

// Files returns the payload, sorted by Path.
func Files() []File {
	return []File{
		{Path: SSHDKeysOnlyPath, Mode: 0o644, Content: []byte(sshdKeysOnly)},
		{Path: SSHDSnippetPath, Mode: 0o644, Content: []byte(sshdSnippet())},
		{Path: UpgradeCheckWantsPath, Mode: fs.ModeSymlink | 0o777, Linkname: UpgradeCheckUnitPath},
		{Path: UpgradeClusterWantsPath, Mode: fs.ModeSymlink | 0o777, Linkname: UpgradeClusterUnitPath},
		{Path: UpgradeWatchWantsPath, Mode: fs.ModeSymlink | 0o777, Linkname: UpgradeWatchUnitPath},
		{Path: UnitWantsPath, Mode: fs.ModeSymlink | 0o777, Linkname: UnitPath},
		{Path: MachineIDCommitMask, Mode: fs.ModeSymlink | 0o777, Linkname: "/dev/null"},
		{Path: PXEUnitPath, Mode: 0o644, Content: []byte(pxeUnit)},
		{Path: RegistryUnitPath, Mode: 0o644, Content: []byte(registryUnit)},
		{Path: UpgradeCheckUnitPath, Mode: 0o644, Content: []byte(upgradeCheckUnit)},
		{Path: UpgradeClusterUnitPath, Mode: 0o644, Content: []byte(upgradeClusterUnit)},
		{Path: UpgradeWatchUnitPath, Mode: 0o644, Content: []byte(upgradeWatchUnit)},
		{Path: PlatformUnitPath, Mode: 0o644, Content: []byte(platformUnit)},
		{Path: UnitPath, Mode: 0o644, Content: []byte(unit)},
	}
}

func sshdSnippet() string {
	var b strings.Builder
	b.WriteString("# Host keys generated on this node by firstboot; they persist on STATE.\n")
	for _, t := range SSHHostKeyTypes {
		b.WriteString("HostKey " + SSHHostKeyPath(t) + "\n")
	}
	return b.String()
}
