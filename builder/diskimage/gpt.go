package diskimage

import (
	"fmt"
	"os"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

// writeGPT writes the protective MBR and both GPTs of layout to f.
func writeGPT(f *os.File, layout Layout) error {
	table := &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		GUID:               layout.DiskGUID,
		ProtectiveMBR:      true,
	}
	for _, p := range layout.Partitions {
		table.Partitions = append(table.Partitions, &gpt.Partition{
			Index:      p.Number,
			Start:      uint64(p.Start / sectorSize),
			End:        uint64((p.Start+p.Size)/sectorSize - 1),
			Size:       uint64(p.Size),
			Type:       gpt.Type(p.TypeGUID),
			Name:       p.Label,
			GUID:       p.UniqueGUID,
			Attributes: uint64(p.Attributes),
		})
	}
	if err := table.Write(f, layout.Size); err != nil {
		return fmt.Errorf("write GPT: %w", err)
	}
	return nil
}
