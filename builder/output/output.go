// Package output defines what every artifact format (raw disk, ISO, PXE
// bundle, ...) is made from and the one method each implements. Formats
// live in sibling packages; adding one touches no other.
package output

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Inputs are the boot pieces every format packages differently.
type Inputs struct {
	// Name is the base name of the artifacts (the site's name).
	Name string
	// Seed makes every "random" ID (GUIDs, UUIDs, volume IDs) reproducible.
	Seed string
	// Release is the site's release version (site.yaml metadata.version,
	// firstboot/upgradebundle); boot menu entries show it.
	Release string
	// ModTime is the timestamp of every file inside the artifacts.
	ModTime time.Time
	// Kernel is the path of the kernel image (bzImage).
	Kernel string
	// KernelVersion is the kernel's release, e.g. "6.1.0-56-amd64".
	KernelVersion string
	// Initramfs is the path of the appliance initramfs.
	Initramfs string
	// OSImage is the path of the squashfs OS image.
	OSImage string
	// Bootloader is the path of the UEFI boot manager (systemd-boot).
	Bootloader string
	// Cmdline holds the operator's kernel arguments (console=..., ...).
	Cmdline []string
	// Secrets is the path of the cluster's secrets volume (package
	// firstboot/clustersecrets), "" without one. A format that carries it
	// writes its artifact 0600 and sets report.Artifact.Secrets; a format
	// served over the network must not carry it.
	Secrets string
	// AgentJoinToken is the token agents join with ("" without K3s): the
	// only secret a netbooted agent gets, in its node config.
	AgentJoinToken string
	// Payload is the path of the image payload's tar (the OCI layout
	// firstboot/payload.ImagePayload describes), "" without one. The raw
	// disk carries it in its PAYLOAD partition, the ISO as
	// bootparam.ISOPayloadPath; netboot formats do not carry it.
	Payload string
	// PayloadSHA256 is the payload's sha256 in hex and PayloadSize its
	// length, as the build cache recorded them (builder/cache Payload): a
	// format that needs them takes them from here instead of hashing
	// gigabytes again.
	PayloadSHA256 string
	PayloadSize   int64
}

// Format makes one kind of artifact.
type Format interface {
	// Name is the format's name in site.yaml's outputs and in the report.
	Name() string
	// Build writes the format's artifacts into dir and describes them.
	Build(ctx context.Context, in Inputs, dir *outdir.Dir) ([]report.Artifact, error)
}

// KernelCmdline joins the appliance's boot arguments (where the OS image and
// state are, which slot) with the operator's, refusing any argument outside
// bootparam.CheckArg's grammar and a line the kernel would cut short.
func KernelCmdline(osSource, stateSource, slot string, extra []string) (string, error) {
	args := []string{
		bootparam.ArgOS + "=" + osSource,
		bootparam.ArgState + "=" + stateSource,
	}
	if slot != "" {
		args = append(args, bootparam.ArgSlot+"="+slot)
	}
	args = append(args, extra...)
	if err := bootparam.CheckCmdline("kernel command line", args); err != nil {
		return "", err
	}
	return strings.Join(args, " "), nil
}

// DescribeSecret is report.Describe for an artifact that holds the secrets
// volume when secret: it makes the file root-only (0600) first and marks
// it report.SecretsServer.
func DescribeSecret(kind, path, reportPath string, secret bool) (report.Artifact, error) {
	return describeSecret(kind, path, secret, func() (report.Artifact, error) {
		return report.Describe(kind, path, reportPath)
	})
}

// DescribeSecretDigest is DescribeSecret for a file whose digest d its
// writer computed as it wrote it (report.DescribeDigest): it reads none
// of the file.
func DescribeSecretDigest(kind, path, reportPath string, secret bool, d report.Digest) (report.Artifact, error) {
	return describeSecret(kind, path, secret, func() (report.Artifact, error) {
		return report.DescribeDigest(kind, path, reportPath, d)
	})
}

// describeSecret makes path root-only when secret, describes it and marks
// the result.
func describeSecret(kind, path string, secret bool, describe func() (report.Artifact, error)) (report.Artifact, error) {
	if secret {
		if err := os.Chmod(path, 0o600); err != nil {
			return report.Artifact{}, fmt.Errorf("%s: %w", kind, err)
		}
	}
	a, err := describe()
	if secret {
		a.Secrets = report.SecretsServer
	}
	return a, err
}
