package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// checkFits refuses an OS image larger than the slot's partition.
func checkFits(p *SlotPartition, s bootslot.Slot, img upgradebundle.File) error {
	if img.Size > p.Size {
		image, part := humanSize(img.Size), humanSize(p.Size)
		if image == part {
			image, part = fmt.Sprintf("%d-byte", img.Size), fmt.Sprintf("%d-byte", p.Size)
		}
		return fmt.Errorf("the OS image does not fit slot %s: %s image, %s partition (%s)", s.Name, image, part, p.Path)
	}
	return nil
}

// writeSlotImage streams the OS image img from r into the partition from
// its start, checking size and sha256 as it writes, syncs it, then drops
// the kernel's cached pages of that range and reads the image's length
// back from the device, checking its sha256 again: what the slot will
// boot is what the manifest names, not what the page cache held.
func writeSlotImage(p *SlotPartition, s bootslot.Slot, r io.Reader, img upgradebundle.File) error {
	if err := checkFits(p, s, img); err != nil {
		return err
	}
	if _, err := copyVerified(io.NewOffsetWriter(p.File, 0), r, img); err != nil {
		return fmt.Errorf("write slot %s (%s): %w", s.Name, p.Path, err)
	}
	if err := p.File.Sync(); err != nil {
		return fmt.Errorf("write slot %s (%s): sync: %w", s.Name, p.Path, err)
	}
	// Advice only: where the kernel keeps the pages, the read below still
	// checks what the writes left.
	if f, ok := p.File.(interface{ Fd() uintptr }); ok {
		_ = unix.Fadvise(int(f.Fd()), 0, img.Size, unix.FADV_DONTNEED)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(p.File, 0, img.Size), make([]byte, copyBuffer)); err != nil {
		return fmt.Errorf("read back slot %s (%s): %w", s.Name, p.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != img.SHA256 {
		return fmt.Errorf("slot %s (%s) reads back sha256 %s over the image's %d bytes, written %s: the partition did not keep what was written", s.Name, p.Path, got, img.Size, img.SHA256)
	}
	return nil
}

// humanSize is n bytes for a console line: "152 MiB", "1.4 GiB".
func humanSize(n int64) string {
	v := float64(n)
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case n >= 10<<20:
		return fmt.Sprintf("%.0f MiB", v/(1<<20))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
