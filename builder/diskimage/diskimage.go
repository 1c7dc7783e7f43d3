// Package diskimage writes the appliance's raw GPT disk image: the layout
// of partitions, the ESP's FAT32 filesystem and its files, the OS image in
// slot A, the cluster's secrets volume, the image payload and an empty
// ext4 STATE.
//
// The disk, in order, every partition aligned to 1 MiB:
//
//	1 ESP      EFI System, FAT32 labelled ESP: bootloader, kernel, initramfs, loader entries
//	2 OS-A     Linux filesystem: the OS image (squashfs) written raw
//	3 OS-B     Linux filesystem: same size as OS-A, zeroed, the slot an upgrade writes
//	4 SECRETS  Linux filesystem: 1 MiB, the secrets volume (firstboot/clustersecrets)
//	           or zeros; the node's first boot takes what its role needs and wipes it
//	5 PAYLOAD  TypePayload, attribute AttrReadOnly: only with Options.Payload; the
//	           image payload's tar (firstboot/payload) written raw, no filesystem,
//	           the tar's size rounded up to MiB
//	5|6 STATE  Linux filesystem: ext4 labelled STATE, last so the node can grow it
//
// STATE is partition 6 with a payload and 5 without: everything that looks
// for a partition does so by its label (bootparam.Label*), never by number.
// PAYLOAD is sized exactly, with no room to grow: an upgrade that brings
// another payload (a different digest) writes it to STATE as
// payload.ImagePayloadStateDir/<index hex>.tar instead, and the node serves
// whichever payload its OS image names; the partition is never rewritten.
//
// Partition labels come from firstboot/bootparam. The output is
// reproducible: every GUID, the FAT volume ID, the ext4 UUID and hash seed
// derive from Options.Seed, and every timestamp is Options.ModTime, so the
// same inputs give a byte-identical file. The file is sparse: only the
// filesystems' metadata, the ESP's files, the OS image and the payload are
// written (the OS image and the payload by copy_file_range, see copyTo).
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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
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
	// Payload is the host path of the image payload's tar written to
	// PAYLOAD; "" means no PAYLOAD partition.
	Payload string
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
	// Filesystem is "" for the empty OS-B, SECRETS and PAYLOAD (a tar).
	Filesystem string `json:"filesystem,omitempty"`
	// FilesystemID is the FAT volume ID (as "ABCD-1234") or the ext4 UUID;
	// "" for the others.
	FilesystemID string `json:"filesystemID,omitempty"`
	// Attributes are the GPT attribute bits (AttrReadOnly for PAYLOAD),
	// hex text in JSON.
	Attributes bootparam.GPTAttributes `json:"attributes,omitempty"`
}

// Partition returns the partition labelled label.
func (l Layout) Partition(label string) (Partition, bool) {
	for _, p := range l.Partitions {
		if p.Label == label {
			return p, true
		}
	}
	return Partition{}, false
}

// mustPartition is Partition for a label every layout has.
func (l Layout) mustPartition(label string) Partition {
	p, ok := l.Partition(label)
	if !ok {
		panic("diskimage: layout without " + label)
	}
	return p
}

// Write writes the disk image to path, creating or truncating it. On error
// the file may be left half-written: the caller writes to a temporary name
// and renames it when Write succeeds.
func Write(ctx context.Context, path string, opts Options) (Layout, error) {
	return writeDisk(ctx, path, opts, nil)
}

// WriteHashed is Write that also returns the sha256 (hex) of the whole
// written file, the image's size being the layout's: what a build report
// says of the image, computed while the payload is copied rather than by
// reading the finished file again (finishDisk).
func WriteHashed(ctx context.Context, path string, opts Options) (Layout, string, error) {
	h := sha256.New()
	layout, err := writeDisk(ctx, path, opts, h)
	if err != nil {
		return Layout{}, "", err
	}
	return layout, hex.EncodeToString(h.Sum(nil)), nil
}

// writeDisk is Write, hashing the file into h unless h is nil.
func writeDisk(ctx context.Context, path string, opts Options, h io.Writer) (Layout, error) {
	p, err := plan(opts)
	if err != nil {
		return Layout{}, err
	}
	defer p.close()
	layout := p.layout

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return Layout{}, fmt.Errorf("create disk image: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(layout.Size); err != nil {
		return Layout{}, fmt.Errorf("size disk image %s: %w", path, err)
	}
	if err := writeImage(ctx, f, p, opts, h); err != nil {
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

// writeImage fills the sized, zeroed file f, PAYLOAD last (finishDisk),
// hashing it into h unless h is nil.
func writeImage(ctx context.Context, f *os.File, p planned, opts Options, h io.Writer) error {
	layout := p.layout
	if err := writeGPT(f, layout); err != nil {
		return err
	}
	esp, osA := layout.mustPartition(bootparam.LabelESP), layout.mustPartition(bootparam.LabelOSA)
	secrets, state := layout.mustPartition(bootparam.LabelSecrets), layout.mustPartition(bootparam.LabelState)
	if err := writeESP(f, esp, opts); err != nil {
		return fmt.Errorf("partition %s: %w", esp.Label, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.osImage.copyTo(ctx, f, osA.Start, nil); err != nil {
		return fmt.Errorf("partition %s: %w", osA.Label, err)
	}
	if err := writeSecrets(f, secrets, opts.Secrets); err != nil {
		return fmt.Errorf("partition %s: %w", secrets.Label, err)
	}
	if err := makeState(ctx, f.Name(), state, opts); err != nil {
		return fmt.Errorf("partition %s: %w", state.Label, err)
	}
	return finishDisk(ctx, f, p, h)
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

// planned is a laid out disk and its opened sources.
type planned struct {
	layout  Layout
	osImage sourceFile
	// payload is the zero sourceFile without Options.Payload.
	payload sourceFile
}

func (p planned) close() error { return closeSources(p.osImage, p.payload) }

// plan checks opts, opens the OS image and the payload and lays the disk
// out; the caller closes what it returns.
func plan(opts Options) (planned, error) {
	if err := opts.check(); err != nil {
		return planned{}, err
	}
	var p planned
	var err error
	if p.osImage, err = openOSImage(opts.OSImage); err != nil {
		return planned{}, err
	}
	if opts.Payload != "" {
		if p.payload, err = openPayload(opts.Payload); err != nil {
			return planned{}, errors.Join(err, p.close())
		}
	}
	s, err := planSizes(opts, p.osImage.size, p.payload.size)
	if err != nil {
		return planned{}, errors.Join(err, p.close())
	}
	p.layout = newLayout(s, opts.Seed)
	return p, nil
}

// newLayout gives the planned partitions their numbers and GUIDs.
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
			Attributes: p.attributes,
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
