// Package diskimage writes the appliance's raw GPT disk image: the layout
// of partitions, the ESP's FAT32 filesystem and its files, the OS image in
// slot A, the cluster's secrets volume and an empty ext4 STATE.
//
// The disk, in order, every partition aligned to 1 MiB:
//
//	1 ESP    EFI System, FAT32 labelled ESP: bootloader, kernel, initramfs, loader entries
//	2 OS-A   Linux filesystem: the OS image (squashfs) written raw
//	3 OS-B     Linux filesystem: same size as OS-A, zeroed, the slot an upgrade writes
//	4 SECRETS  Linux filesystem: 1 MiB, the secrets volume (firstboot/clustersecrets)
//	           or zeros; the node's first boot takes what its role needs and wipes it
//	5 STATE    Linux filesystem: ext4 labelled STATE, last so the node can grow it
//
// Partition labels come from firstboot/bootparam. The output is
// reproducible: every GUID, the FAT volume ID, the ext4 UUID and hash seed
// derive from Options.Seed, and every timestamp is Options.ModTime, so the
// same inputs give a byte-identical file. The file is sparse: only the
// filesystems' metadata, the ESP's files and the OS image are written.
//
// GPT and FAT32 are written with github.com/diskfs/go-diskfs. What its
// FAT32 gets wrong (clock timestamps and volume ID, more clusters than FAT
// entries, ".." and empty-file clusters, no free count) is repaired in
// place afterwards (fixFAT32), so fsck.fat finds nothing. STATE is made by
// mkfs.ext4 from e2fsprogs (in HostTools), because go-diskfs' ext4 writer
// takes its hash seed and times from the clock with no way to set them;
// mkfs.ext4 takes -U, -E hash_seed= and E2FSPROGS_FAKE_TIME, and a config
// file shipped here instead of the host's /etc/mke2fs.conf.
package diskimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Filesystem names used in Layout.
const (
	FilesystemFAT32    = "vfat"
	FilesystemSquashfs = "squashfs"
	FilesystemExt4     = "ext4"
)

// HostTools are the programs Write runs from PATH (for `builder doctor`).
var HostTools = []string{mkfsExt4}

// File is one file to put in the ESP: its content comes from Source (a
// host file) or from Data, exactly one of them.
type File struct {
	// Path inside the ESP, slash-separated, e.g. "EFI/BOOT/BOOTX64.EFI".
	// Parent directories are created.
	Path   string
	Source string
	Data   []byte
}

// Options describes one disk image. Sizes are in bytes; every partition
// size must be a multiple of MiB.
type Options struct {
	// Size of the whole disk; 0 means the smallest that fits. STATE takes
	// whatever the other partitions leave.
	Size int64
	// Seed derives every GUID and filesystem ID. Required.
	Seed string
	// ESPSize; 0 means DefaultESPSize.
	ESPSize int64
	// OSSlotSize is the size of OS-A and of OS-B; 0 means twice the OS
	// image rounded up to MiB, and at least MinDefaultOSSlotSize.
	OSSlotSize int64
	// MinStateSize is the smallest STATE accepted; 0 means DefaultMinStateSize.
	MinStateSize int64
	// ESPFiles are written to the ESP in path order.
	ESPFiles []File
	// OSImage is the host path of the squashfs written to OS-A. Required.
	OSImage string
	// Secrets is the host path of the secrets volume written to SECRETS;
	// "" leaves the partition zeroed.
	Secrets string
	// ModTime is every filesystem timestamp. Required.
	ModTime time.Time
}

// Layout describes the written disk.
type Layout struct {
	Size       int64       `json:"size"`
	DiskGUID   string      `json:"diskGUID"`
	Partitions []Partition `json:"partitions"`
}

// Partition is one GPT partition of a Layout.
type Partition struct {
	Number     int    `json:"number"`
	Label      string `json:"label"`
	TypeGUID   string `json:"typeGUID"`
	UniqueGUID string `json:"uniqueGUID"`
	// Start and Size in bytes.
	Start int64 `json:"start"`
	Size  int64 `json:"size"`
	// Filesystem is "" for the empty OS-B.
	Filesystem string `json:"filesystem,omitempty"`
	// FilesystemID is the FAT volume ID (as "ABCD-1234") or the ext4 UUID;
	// "" for squashfs and OS-B.
	FilesystemID string `json:"filesystemID,omitempty"`
}

// Write writes the disk image to path, creating or truncating it. On error
// the file may be left half-written: the caller writes to a temporary name
// and renames it when Write succeeds.
func Write(ctx context.Context, path string, opts Options) (Layout, error) {
	osImage, s, layout, err := plan(opts)
	if err != nil {
		return Layout{}, err
	}
	defer osImage.file.Close()

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return Layout{}, fmt.Errorf("create disk image: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(s.disk); err != nil {
		return Layout{}, fmt.Errorf("size disk image %s: %w", path, err)
	}
	if err := writeImage(ctx, f, layout, opts, osImage); err != nil {
		return Layout{}, fmt.Errorf("write disk image %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return Layout{}, fmt.Errorf("sync disk image %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return Layout{}, fmt.Errorf("close disk image %s: %w", path, err)
	}
	return layout, nil
}

// writeImage fills the sized, zeroed file f.
func writeImage(ctx context.Context, f *os.File, layout Layout, opts Options, osImage osImage) error {
	if err := writeGPT(f, layout); err != nil {
		return err
	}
	esp, osA, secrets, state := layout.Partitions[0], layout.Partitions[1], layout.Partitions[3], layout.Partitions[4]
	if err := writeESP(f, esp, opts); err != nil {
		return fmt.Errorf("partition %s: %w", esp.Label, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := osImage.copyTo(f, osA.Start); err != nil {
		return fmt.Errorf("partition %s: %w", osA.Label, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeSecrets(f, secrets, opts.Secrets); err != nil {
		return fmt.Errorf("partition %s: %w", secrets.Label, err)
	}
	if err := makeState(ctx, f.Name(), state, opts); err != nil {
		return fmt.Errorf("partition %s: %w", state.Label, err)
	}
	return nil
}

// writeSecrets copies the secrets volume at path (if any) to the start of
// the partition.
func writeSecrets(f *os.File, part Partition, path string) error {
	if path == "" {
		return nil
	}
	data, err := smallfile.Read(path, part.Size)
	if err != nil {
		return fmt.Errorf("secrets volume: %w", err)
	}
	if _, err := f.WriteAt(data, part.Start); err != nil {
		return fmt.Errorf("secrets volume: %w", err)
	}
	return nil
}

func (o Options) check() error {
	var errs []error
	if o.Seed == "" {
		errs = append(errs, errors.New("missing Seed"))
	}
	if o.OSImage == "" {
		errs = append(errs, errors.New("missing OSImage"))
	}
	if o.ModTime.IsZero() {
		errs = append(errs, errors.New("missing ModTime"))
	}
	seen := map[string]bool{}
	for i, file := range o.ESPFiles {
		key := strings.ToUpper(strings.Trim(file.Path, "/"))
		switch {
		case key == "":
			errs = append(errs, fmt.Errorf("ESPFiles[%d]: Path is empty", i))
		case (file.Source == "") == (file.Data == nil):
			errs = append(errs, fmt.Errorf("ESPFiles[%d] %s: set exactly one of Source and Data", i, file.Path))
		case seen[key]:
			errs = append(errs, fmt.Errorf("ESPFiles[%d] %s: path given twice (FAT names ignore case)", i, file.Path))
		}
		seen[key] = true
	}
	return errors.Join(errs...)
}

// newLayout gives the planned partitions their numbers and GUIDs.
// plan checks opts, opens the OS image and lays the disk out; the caller
// closes the OS image.
func plan(opts Options) (osImage, sizes, Layout, error) {
	if err := opts.check(); err != nil {
		return osImage{}, sizes{}, Layout{}, err
	}
	img, err := openOSImage(opts.OSImage)
	if err != nil {
		return osImage{}, sizes{}, Layout{}, err
	}
	s, err := planSizes(opts, img.size)
	if err != nil {
		img.file.Close()
		return osImage{}, sizes{}, Layout{}, err
	}
	return img, s, newLayout(s, opts.Seed), nil
}

func newLayout(s sizes, seed string) Layout {
	l := Layout{Size: s.disk, DiskGUID: guidString(derivedUUID(seed, idDisk))}
	for i, p := range s.partitions() {
		part := Partition{
			Number:     i + 1,
			Label:      p.label,
			TypeGUID:   p.typeGUID,
			UniqueGUID: guidString(derivedUUID(seed, idPartition+p.label)),
			Start:      p.start,
			Size:       p.size,
			Filesystem: p.filesystem,
		}
		switch p.filesystem {
		case FilesystemFAT32:
			id := derivedUint32(seed, idFATVolume)
			part.FilesystemID = fmt.Sprintf("%04X-%04X", id>>16, id&0xffff)
		case FilesystemExt4:
			part.FilesystemID = derivedUUID(seed, idExt4UUID).String()
		}
		l.Partitions = append(l.Partitions, part)
	}
	return l
}
