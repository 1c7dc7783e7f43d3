// Package raw is the raw GPT disk image output: flash it to a disk or USB
// stick and the machine boots it under UEFI.
//
// The disk holds an EFI system partition with systemd-boot and slot A's
// kernel, initramfs and loader entry (the A/B layout of
// firstboot/bootslot), the OS image in slot A (slot B and its ESP files
// stay empty until an upgrade writes them), the secrets volume, the image payload in its own
// read-only PAYLOAD partition (when the build has one), and STATE, which
// grows to fill the disk at first boot (package diskimage has the layout).
package raw

import (
	"context"
	"fmt"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/report"
)

// Options are the raw format's settings from site.yaml.
type Options struct {
	// Size of the disk image in bytes; 0 means the smallest that fits.
	Size int64
}

// Format writes <name>.raw.
type Format struct {
	opts Options
}

// New returns the raw disk format.
func New(opts Options) *Format { return &Format{opts: opts} }

// Name implements output.Format.
func (*Format) Name() string { return "raw" }

// Build implements output.Format.
func (f *Format) Build(ctx context.Context, in output.Inputs, dir *outdir.Dir) ([]report.Artifact, error) {
	name := in.Name + ".raw"
	espFiles, err := ESPFiles(in)
	if err != nil {
		return nil, fmt.Errorf("raw disk image: %w", err)
	}
	// The image's sha256 comes from the write, which hashes the disk
	// while it copies the payload, not from reading it all again.
	layout, sum, err := diskimage.WriteHashed(ctx, dir.Path(name), diskimage.Options{
		Size:     f.opts.Size,
		Seed:     in.Seed,
		ESPFiles: espFiles,
		OSImage:  in.OSImage,
		Secrets:  in.Secrets,
		Payload:  in.Payload,
		ModTime:  in.ModTime,
	})
	if err != nil {
		return nil, fmt.Errorf("raw disk image: %w", err)
	}
	a, err := output.DescribeSecretDigest("raw", dir.Path(name), name, in.Secrets != "", report.Digest{Size: layout.Size, SHA256: sum})
	if err != nil {
		return nil, err
	}
	a.Details = layout
	return []report.Artifact{a}, nil
}
