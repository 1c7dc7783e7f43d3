// Package bootparam is the contract between the builder, which lays out the
// boot media and writes the kernel command line, and the appliance's own
// initramfs init, which reads them on the node.
//
// The builder imports this package; the init and firstboot import it too. It
// holds names, the grammar every value on a command line keeps to (CheckArg,
// CheckDevice: grammar.go; the builder's writers and builder validate check
// with it) and the parsing (ParseCmdline reads a line as the kernel does),
// no other logic, so it stays tiny.
//
// Kernel command line keys (all optional unless noted):
//
//	appliance.os=PARTLABEL=OS-A     where the OS image (squashfs) is (required):
//	                                PARTLABEL=<GPT name>, LABEL=<fs label>, /dev/<name>,
//	                                or ISO=<volume id>:<path> for a squashfs file on
//	                                the ISO 9660 filesystem with that volume ID (a
//	                                CD, or a hybrid ISO written to a USB stick: the
//	                                whole disk is then the ISO), loop-mounted (live boot),
//	                                or url:<http URL> to download into RAM (netboot; the
//	                                URL may be relative to appliance.os.base)
//	appliance.os.sha256=HEX         the netboot OS image's SHA-256 (required with url:)
//	appliance.os.base=URL           base of a relative url: (the iPXE script's ${filename})
//	appliance.state=PARTLABEL=STATE where persistent state lives; "tmpfs" keeps it in RAM;
//	                                disk:auto|/dev/<name>[,force] keeps a live or netbooted
//	                                node's state on a local disk (StateDiskPrefix)
//	appliance.slot=a                which A/B slot booted (informational, for upgrades)
//	appliance.rescue=1              on failure, start a rescue shell if the initramfs has one
//	appliance.debug=1               verbose init output
//
// Keys firstboot (package datasource) reads on the booted system:
//
//	firstboot.config=URL|PATH       one #cloud-config user-data document: an
//	                                http://, https:// or file:// URL or an
//	                                absolute path, or a URL relative to appliance.os.base;
//	                                it overrides the NoCloud sources
//	firstboot.config.sha256=HEX     the document's SHA-256 (64 hex digits);
//	                                a mismatch fails firstboot
//	ds=nocloud;s=URL;h=NAME;i=ID    cloud-init's NoCloud seed from the kernel
//	                                command line (see package datasource)
package bootparam

// GPT partition labels of the raw disk layout.
const (
	LabelESP = "ESP"
	LabelOSA = "OS-A"
	LabelOSB = "OS-B"
	// LabelSecrets is the partition holding the cluster's secrets until
	// the node's first boot takes what its role needs and wipes it
	// (package clustersecrets).
	LabelSecrets = "SECRETS"
	// LabelPayload is the read-only partition whose raw bytes are the
	// image payload's tar (package payload, ImagePayload).
	LabelPayload = "PAYLOAD"
	LabelState   = "STATE"
)

// ISOSecretsPath is the secrets volume's file on an ISO (package
// clustersecrets): an installer writes it to the SECRETS partition, a live
// boot reads it under the ISO's mount.
const ISOSecretsPath = "/install/secrets.img"

// ISOPayloadPath is the image payload's tar on an ISO: an installer writes
// it to the PAYLOAD partition, a live boot serves it from the ISO's mount.
const ISOPayloadPath = "/appliance/payload.tar"

// ISOMount is where the init of a live boot leaves the ISO 9660 filesystem
// mounted.
const ISOMount = "/run/appliance/iso"

// Kernel command line keys.
const (
	ArgOS     = "appliance.os"
	ArgState  = "appliance.state"
	ArgSlot   = "appliance.slot"
	ArgRescue = "appliance.rescue"
	ArgDebug  = "appliance.debug"

	// ArgOSSHA256 and ArgOSBase go with an appliance.os=url:... (netboot).
	ArgOSSHA256 = "appliance.os.sha256"
	ArgOSBase   = "appliance.os.base"

	// ArgConfig names one #cloud-config user-data document (URL or path).
	ArgConfig = "firstboot.config"
	// ArgConfigSHA256 is the SHA-256 of the ArgConfig document, in hex.
	ArgConfigSHA256 = "firstboot.config.sha256"
)

// ISO output layout: where the OS image sits on the ISO, and the prefix of
// an appliance.os value that names a file on an ISO 9660 filesystem.
const (
	ISOOSImagePath = "/appliance/os.squashfs"
	ISOSourceKey   = "ISO"
)

// ISOSource is the appliance.os value for the file path on the ISO 9660
// filesystem whose volume ID is label: "ISO=<label>:<path>".
func ISOSource(label, path string) string { return ISOSourceKey + "=" + label + ":" + path }

// URLSourceKey prefixes an appliance.os value that names an HTTP URL:
// "url:<URL>". The init downloads the OS image into RAM (PXE bundle).
const URLSourceKey = "url"

// PXE bundle layout: the file names next to the iPXE boot script.
const (
	PXEKernel     = "vmlinuz"
	PXEInitrd     = "initrd"
	PXEOSImage    = "os.squashfs"
	PXEBootScript = "boot.ipxe"
)

// StateTmpfs as the value of appliance.state keeps state in RAM.
const StateTmpfs = "tmpfs"

// Paths inside the initramfs.
const (
	// InitramfsModuleOrder lists kernel module files (paths inside the
	// initramfs), one per line, in an order where every module comes after
	// the modules it depends on. The init loads them top to bottom.
	InitramfsModuleOrder = "/etc/appliance/modules.order"
	// InitramfsRescueShell is present when the image was built with a rescue shell.
	InitramfsRescueShell = "/bin/sh"
)

// Paths in the booted system.
const (
	// StateMount is where the init leaves the STATE filesystem mounted for
	// the booted system (it moves /run into the new root, systemd keeps it).
	StateMount = "/run/appliance/state"
	// OSMount is where the init mounts the OS image (squashfs) under the
	// overlay root; its source is the device or loop device the node
	// booted from.
	OSMount = "/run/appliance/os"
)

// Persistent is a path of the booted system that lives on STATE. The init
// bind-mounts STATE's copy over the read-only image's. On the first boot a
// directory is seeded from the image's content; a file is created by the
// init (machine-id) or left for its owner to write.
type Persistent struct {
	Path  string
	IsDir bool
}

// PersistentPaths are the paths that survive a reboot. Everything else under
// / is the read-only OS image with a RAM overlay, so it resets at each boot.
// SSH host keys live under /var/lib/appliance/ssh (an sshd_config.d snippet
// points sshd there), so /etc/ssh itself stays the image's.
var PersistentPaths = []Persistent{
	{Path: "/var", IsDir: true},
	{Path: "/etc/rancher", IsDir: true},
	{Path: "/etc/machine-id", IsDir: false},
}
