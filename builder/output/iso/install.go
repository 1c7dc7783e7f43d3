package iso

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/output/raw"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Install mode: besides booting live, the ISO writes the raw disk layout
// to a local disk (package bootinit does the writing). The ISO then also
// carries
//
//	/install/esp.img      the raw image's ESP, byte for byte
//	/install/state.img    an empty STATE ext4 of the smallest size; the
//	                      first boot grows it to fill the disk
//
// Both images are stored without their trailing zeros (most of a fresh
// FAT32 or ext4 is zeros): the installer zeroes each partition past what
// it writes, so the disk gets the same bytes and the ISO is ~300 MiB
// smaller.
//	/install/layout.json  the GPT and, per partition, which file goes at
//	                      its start with its size and sha256
//	                      (bootparam.InstallLayout)
//	/install/secrets.img  the cluster's secrets volume, for the SECRETS
//	                      partition (also read by a live boot; see
//	                      firstboot/clustersecrets)
//
// and the OS image and the image payload only once, at
// /appliance/os.squashfs and /appliance/payload.tar, where the live boot
// finds them too; the payload goes to the PAYLOAD partition, which the
// layout has only when the build has a payload. Both boot paths add
// appliance.install=<target>.

// Install is the install target of an installer ISO.
type Install = bootparam.InstallTarget

// installStateSize is STATE's size on the ISO: the smallest ext4 the raw
// layout accepts, since the first boot grows it anyway.
const installStateSize = diskimage.StateSizeFloor

// Paths of the install files inside the ISO, without the leading slash.
var (
	installLayoutPath = strings.TrimPrefix(bootparam.InstallLayoutPath, "/")
	installESPPath    = strings.TrimPrefix(bootparam.InstallESPImage, "/")
	installStatePath  = strings.TrimPrefix(bootparam.InstallStateImage, "/")
)

// prepareInstall writes esp.img, state.img and layout.json into
// opts.WorkDir and returns their grafts and the layout.
func prepareInstall(ctx context.Context, in output.Inputs, workDir string) ([]graft, bootparam.InstallLayout, error) {
	files := diskimage.PartFiles{
		ESP:   filepath.Join(workDir, "esp.img"),
		State: filepath.Join(workDir, "state.img"),
	}
	espFiles, err := raw.ESPFiles(in)
	if err != nil {
		return nil, bootparam.InstallLayout{}, err
	}
	disk, err := diskimage.WriteParts(ctx, files, diskimage.Options{
		Seed:         in.Seed,
		MinStateSize: installStateSize,
		ESPFiles:     espFiles,
		OSImage:      in.OSImage,
		Payload:      in.Payload,
		ModTime:      in.ModTime,
	})
	if err != nil {
		return nil, bootparam.InstallLayout{}, fmt.Errorf("install images: %w", err)
	}
	type source struct {
		isoPath, host string
		// trim: the file is the builder's own image, stored without its
		// trailing zeros.
		trim bool
		// known is the file's digest when the build has it already; nil:
		// hash the file.
		known *report.Digest
	}
	sources := map[string]source{
		bootparam.LabelESP:   {isoPath: bootparam.InstallESPImage, host: files.ESP, trim: true},
		bootparam.LabelOSA:   {isoPath: bootparam.ISOOSImagePath, host: in.OSImage},
		bootparam.LabelState: {isoPath: bootparam.InstallStateImage, host: files.State, trim: true},
	}
	if in.Secrets != "" {
		// The same file a live boot reads (prepare grafts it).
		sources[bootparam.LabelSecrets] = source{isoPath: bootparam.ISOSecretsPath, host: in.Secrets}
	}
	if in.Payload != "" {
		// Likewise: the live boot serves it from the ISO.
		sources[bootparam.LabelPayload] = source{isoPath: bootparam.ISOPayloadPath, host: in.Payload, known: payloadDigest(in)}
	}
	layout := bootparam.InstallLayout{SectorSize: sectorSize, DiskGUID: disk.DiskGUID}
	for _, p := range disk.Partitions {
		ip := bootparam.InstallPartition{
			Name: p.Label, TypeGUID: p.TypeGUID, UniqueGUID: p.UniqueGUID,
			FirstLBA: p.Start / sectorSize, Sectors: p.Size / sectorSize, Attributes: p.Attributes,
		}
		if src, ok := sources[p.Label]; ok {
			ip.Source = src.isoPath
			if src.trim {
				if err := trimTrailingZeros(src.host); err != nil {
					return nil, layout, fmt.Errorf("install layout: %w", err)
				}
			}
			if ip.Size, ip.SHA256, err = fileDigest(src.host, src.known); err != nil {
				return nil, layout, fmt.Errorf("install layout: %w", err)
			}
			if ip.Size > p.Size {
				return nil, layout, fmt.Errorf("install layout: %s (%d bytes) does not fit partition %s (%d bytes)", src.host, ip.Size, p.Label, p.Size)
			}
		}
		layout.Partitions = append(layout.Partitions, ip)
	}
	data, err := json.MarshalIndent(layout, "", "  ")
	if err != nil {
		return nil, layout, err
	}
	layoutFile := filepath.Join(workDir, "layout.json")
	if err := os.WriteFile(layoutFile, append(data, '\n'), 0o644); err != nil {
		return nil, layout, fmt.Errorf("write install layout: %w", err)
	}
	grafts := []graft{
		{installESPPath, files.ESP},
		{installLayoutPath, layoutFile},
		{installStatePath, files.State},
	}
	return grafts, layout, nil
}

// payloadDigest is the payload's digest as the build cache recorded it
// (output.Inputs.PayloadSHA256 and PayloadSize), nil when in has none: the
// payload is gigabytes, and hashing it again here would read them all.
func payloadDigest(in output.Inputs) *report.Digest {
	if in.PayloadSHA256 == "" {
		return nil
	}
	return &report.Digest{Size: in.PayloadSize, SHA256: in.PayloadSHA256}
}

// fileDigest is the size and sha256 of the file at path: known, checked
// against the file's length (report.Digest.Check), or without it the
// file's own, read.
func fileDigest(path string, known *report.Digest) (int64, string, error) {
	if known == nil {
		return report.HashFile(path)
	}
	if err := known.Check(path); err != nil {
		return 0, "", err
	}
	return known.Size, known.SHA256, nil
}

// sectorSize is the raw layout's logical sector size.
const sectorSize = 512

// trimTrailingZeros truncates the file at path after its last non-zero
// byte, rounded up to a sector.
func trimTrailingZeros(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	end := info.Size()
	for end > 0 {
		off := max(0, end-int64(len(buf)))
		chunk := buf[:end-off]
		if _, err := f.ReadAt(chunk, off); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if trimmed := bytes.TrimRight(chunk, "\x00"); len(trimmed) > 0 {
			end = off + int64(len(trimmed))
			break
		}
		end = off
	}
	end = (end + sectorSize - 1) / sectorSize * sectorSize
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("trim %s: %w", path, err)
	}
	return f.Close()
}
