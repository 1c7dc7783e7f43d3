// Package upgradebundle is the upgrade bundle's contract: what `builder
// build` writes for a site next to its disk image, and what `firstboot
// upgrade apply` on a node of that site checks before it writes anything.
//
// A bundle is a directory, <site>-upgrade/ (DirName), fit to be served
// over HTTP as it is:
//
//	manifest.json   the Manifest: the release it carries and its files
//	manifest.sig    an ed25519 signature of manifest.json's exact bytes
//	os.squashfs     the OS image, written to the inactive slot's partition
//	vmlinuz         the kernel and the initramfs, written to the ESP
//	initrd.img
//	payload.tar     the image payload, when the release has one; a node
//	                that already has a payload with the same index digest
//	                does not fetch it
//
// The signing key is generated once per site into the build's secrets
// directory, like the cluster CA; the OS image carries its public key
// (PublicKeyPath) and describes itself (ReleasePath). A node accepts only
// a bundle its own image's key verifies, so a bundle of another site (or
// one changed on the way) is refused before its files are read.
package upgradebundle

import (
	"crypto/sha256"
	"encoding/hex"
)

// Format is the version of this layout; a node refuses another.
const Format = 1

// File names inside a bundle directory.
const (
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.sig"
	OSImageFile   = "os.squashfs"
	KernelFile    = "vmlinuz"
	InitrdFile    = "initrd.img"
	PayloadFile   = "payload.tar"
)

// DirName is the bundle directory's name for a site.
func DirName(site string) string { return site + "-upgrade" }

// Paths in the OS image.
const (
	// PublicKeyPath is the site's bundle signing key's public half
	// (PEM, "PUBLIC KEY", PKIX ed25519).
	PublicKeyPath = "/usr/lib/appliance/upgrade/signing.pub"
	// ReleasePath is the image's own Release (JSON).
	ReleasePath = "/usr/lib/appliance/release.json"
)

// Size bounds of what a node reads before it trusts it.
const (
	MaxManifestSize  = 1 << 20
	MaxSignatureSize = 1 << 10
	MaxReleaseSize   = 64 << 10
)

// Release describes one build of a site: the OS image carries its own at
// ReleasePath and a bundle's manifest the one it brings.
type Release struct {
	// Site is the site's metadata.name.
	Site string `json:"site"`
	// SiteID is SiteID(seed): the site's identity across builds.
	SiteID string `json:"siteID"`
	// Cluster is K3s's CA hash of the cluster's server CA (what a K10
	// token pins), "" for a site without a generated CA.
	Cluster string `json:"cluster,omitempty"`
	// Version is site.yaml's metadata.version (Compare orders them).
	Version string `json:"version"`
	// K3sVersion is the K3s release baked in ("" without K3s).
	K3sVersion string `json:"k3sVersion,omitempty"`
	// KernelVersion is the kernel's release.
	KernelVersion string `json:"kernelVersion"`
	// Payload is the image payload's index digest ("sha256:<hex>"), ""
	// without one (firstboot/payload ImagePayload.Index).
	Payload string `json:"payload,omitempty"`
}

// File is one file of a bundle.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format  int     `json:"format"`
	Release Release `json:"release"`
	// Cmdline holds the operator's kernel arguments (site.yaml
	// os.cmdline), which the new slot's loader entry carries after the
	// appliance's own (bootslot.Options).
	Cmdline []string `json:"cmdline,omitempty"`
	OSImage File     `json:"osImage"`
	Kernel  File     `json:"kernel"`
	Initrd  File     `json:"initrd"`
	// Payload is the image payload's tar, nil when the release has none.
	Payload *File `json:"payload,omitempty"`
}

// SiteID is the site identity a seed gives: the hex sha256 of a fixed
// prefix and the seed, so the seed itself is not published.
func SiteID(seed string) string {
	sum := sha256.Sum256([]byte("appliance site\x00" + seed))
	return hex.EncodeToString(sum[:])
}
