package payload

// The PXE bundle an initial server serves (site.yaml
// outputs.pxe.serveFromInitServer): the builder puts the bundle's small
// files in PXEDir of the image; `firstboot serve-pxe`, run by PXEUnitName
// on the initial server, serves them with the node's own OS image (the
// first bytes of the device it booted from), whose digest it computes and
// writes into the boot script, so workers netboot from the first server.
const (
	// PXEDir holds vmlinuz, initrd, nodes/, the script template, the
	// serve config and, under PXETFTPDir, the iPXE binaries.
	PXEDir = "/usr/lib/appliance/pxe"
	// PXEScriptTemplate (in PXEDir) is boot.ipxe with PXEOSDigest where
	// the OS image's sha256 goes.
	PXEScriptTemplate = "boot.ipxe.in"
	PXEOSDigest       = "@OS_SHA256@"
	// PXEServeConfigFile (in PXEDir) is a PXEServeConfig in JSON.
	PXEServeConfigFile = "serve.json"
	// PXETFTPDir (in PXEDir) holds the iPXE binaries for TFTP.
	PXETFTPDir = "tftp"
	// PXERuntimeDir is the directory served: the boot script with the
	// digest filled in, and links to PXEDir's files.
	PXERuntimeDir = "/run/appliance/pxe"
	// PXEUnitName runs `firstboot serve-pxe`; firstboot starts it on the
	// initial server when PXEDir exists. It is not enabled.
	PXEUnitName = "appliance-pxe.service"
	PXEUnitPath = "/usr/lib/systemd/system/" + PXEUnitName
)

// PXEServeConfig is how the initial server serves the bundle.
type PXEServeConfig struct {
	// DHCP is "proxy" (answer PXE clients beside the site's DHCP server),
	// "full" (hand out Range on an isolated network) or "off".
	DHCP string `json:"dhcp"`
	// Interface to serve DHCP on; "" means the interface of the default
	// route, else the first with an IPv4 address.
	Interface string `json:"interface,omitempty"`
	// Range, Router and DNS are for full DHCP.
	Range  string   `json:"range,omitempty"`
	Router string   `json:"router,omitempty"`
	DNS    []string `json:"dns,omitempty"`
}
