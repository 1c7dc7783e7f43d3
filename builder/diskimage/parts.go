package diskimage

import (
	"context"
	"fmt"
	"os"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// PartFiles are the host paths WriteParts writes.
type PartFiles struct {
	// ESP receives the ESP partition's bytes: the FAT32 filesystem Write
	// puts in the ESP, byte for byte.
	ESP string
	// State receives an empty STATE ext4 of Options.MinStateSize, as Write
	// makes it in a disk of the smallest size.
	State string
}

// WriteParts writes, as separate image files, the ESP and STATE of the
// smallest disk Write would make for opts, and returns that disk's layout.
// The SECRETS partition's content is opts.Secrets itself, PAYLOAD's (with
// opts.Payload) the payload itself.
// An installer writes them and the OS image at the layout's offsets,
// without a whole raw image travelling alongside the OS image.
func WriteParts(ctx context.Context, files PartFiles, opts Options) (Layout, error) {
	opts.Size = 0
	p, err := plan(opts)
	if err != nil {
		return Layout{}, err
	}
	defer p.close()
	layout := p.layout
	esp, state := layout.mustPartition(bootparam.LabelESP), layout.mustPartition(bootparam.LabelState)
	// The FAT32 and the ext4 do not record where they start on the disk:
	// made at offset 0 of their own file, they are the same bytes.
	esp.Start, state.Start = 0, 0
	if err := writePartFile(files.ESP, esp.Size, func(f *os.File) error { return writeESP(f, esp, opts) }); err != nil {
		return Layout{}, fmt.Errorf("partition %s: %w", esp.Label, err)
	}
	if err := ctx.Err(); err != nil {
		return Layout{}, err
	}
	err = writePartFile(files.State, state.Size, func(f *os.File) error { return makeState(ctx, f.Name(), state, opts) })
	if err != nil {
		return Layout{}, fmt.Errorf("partition %s: %w", state.Label, err)
	}
	return layout, nil
}

// writePartFile creates path as a sparse file of size bytes and fills it.
func writePartFile(path string, size int64, fill func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("size %s: %w", path, err)
	}
	if err := fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}
