package diskimage

import (
	"fmt"
	"os"
	"time"
)

// FATImageOptions describe a FAT32 filesystem image with no partition
// table, such as the EFI boot image of an ISO.
type FATImageOptions struct {
	// Label is the volume label (at most 11 characters).
	Label string
	// Seed derives the volume ID. Required.
	Seed string
	// Files are written in path order, as into the raw disk's ESP.
	Files []File
	// ModTime is every timestamp. Required.
	ModTime time.Time
}

// fatImageSlack covers the FATs, directories and cluster rounding of a
// FAT image beyond its files' bytes (512-byte clusters: 8 bytes of FAT
// per cluster across two FATs, under 2%, plus a margin).
const fatImageSlack = 4 * MiB

// WriteFATImage writes a FAT32 filesystem holding opts.Files to path,
// sized to fit them (at least ESPSizeFloor, the FAT32 minimum), with the
// same writer, timestamps and volume-ID fixing as the raw disk's ESP. It
// returns the image's size.
func WriteFATImage(path string, opts FATImageOptions) (int64, error) {
	if opts.Seed == "" || opts.ModTime.IsZero() {
		return 0, fmt.Errorf("FAT image %s: seed and modification time are required", path)
	}
	var data int64
	for _, f := range opts.Files {
		n := int64(len(f.Data))
		if f.Source != "" {
			fi, err := os.Stat(f.Source)
			if err != nil {
				return 0, fmt.Errorf("FAT image %s: %w", path, err)
			}
			n = fi.Size()
		}
		data += alignUp(n, 4096)
	}
	size := max(alignUp(data+data/50+fatImageSlack, MiB), ESPSizeFloor)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("create FAT image: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return 0, fmt.Errorf("size FAT image %s: %w", path, err)
	}
	part := Partition{Label: opts.Label, Start: 0, Size: size}
	err = writeESP(f, part, Options{Seed: opts.Seed, ESPFiles: opts.Files, ModTime: opts.ModTime})
	if err != nil {
		return 0, fmt.Errorf("FAT image %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("close FAT image %s: %w", path, err)
	}
	return size, nil
}
