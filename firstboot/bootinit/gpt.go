package bootinit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// Disk is what GrowPartition needs of a disk: a whole-disk device node or
// an image file.
type Disk interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
}

// GrowResult says what GrowPartition did.
type GrowResult struct {
	Number           int   // partition number, from 1
	Start            int64 // first LBA
	OldEnd, NewEnd   int64 // last LBA, inclusive
	SectorSize       int64
	Grown            bool
	MovedBackupTable bool // the backup GPT moved to the new end of the disk
}

// gptHeader holds the fields of a GPT header that growing changes or needs.
type gptHeader struct {
	raw         []byte
	myLBA       int64
	altLBA      int64
	lastUsable  int64
	entriesLBA  int64
	numEntries  int64
	entrySize   int64
	entriesSize int64
}

var le = binary.LittleEndian

func readHeader(d io.ReaderAt, lba, ss int64) (*gptHeader, error) {
	raw := make([]byte, ss)
	if _, err := d.ReadAt(raw, lba*ss); err != nil {
		return nil, fmt.Errorf("read GPT header at LBA %d: %w", lba, err)
	}
	if string(raw[:8]) != "EFI PART" {
		return nil, fmt.Errorf("no GPT header at LBA %d", lba)
	}
	size := int64(le.Uint32(raw[12:16]))
	if size < 92 || size > ss {
		return nil, fmt.Errorf("GPT header at LBA %d: bad size %d", lba, size)
	}
	want := le.Uint32(raw[16:20])
	if got := headerCRC(raw[:size]); got != want {
		return nil, fmt.Errorf("GPT header at LBA %d: CRC %08x, stored %08x", lba, got, want)
	}
	h := &gptHeader{
		raw:        raw[:size],
		myLBA:      int64(le.Uint64(raw[24:32])),
		altLBA:     int64(le.Uint64(raw[32:40])),
		lastUsable: int64(le.Uint64(raw[48:56])),
		entriesLBA: int64(le.Uint64(raw[72:80])),
		numEntries: int64(le.Uint32(raw[80:84])),
		entrySize:  int64(le.Uint32(raw[84:88])),
	}
	h.entriesSize = h.numEntries * h.entrySize
	if h.entrySize < 128 || h.entriesSize > 1<<20 {
		return nil, fmt.Errorf("GPT header at LBA %d: bad entry table %d x %d", lba, h.numEntries, h.entrySize)
	}
	return h, nil
}

func headerCRC(hdr []byte) uint32 {
	c := bytes.Clone(hdr)
	clear(c[16:20])
	return crc32.ChecksumIEEE(c)
}

func (h *gptHeader) bytes(myLBA, altLBA, entriesLBA, lastUsable int64, entriesCRC uint32, ss int64) []byte {
	out := make([]byte, ss)
	copy(out, h.raw)
	le.PutUint64(out[24:32], uint64(myLBA))
	le.PutUint64(out[32:40], uint64(altLBA))
	le.PutUint64(out[48:56], uint64(lastUsable))
	le.PutUint64(out[72:80], uint64(entriesLBA))
	le.PutUint32(out[88:92], entriesCRC)
	le.PutUint32(out[16:20], headerCRC(out[:len(h.raw)]))
	return out
}

func partitionName(entry []byte) string {
	u := make([]uint16, 36)
	for i := range u {
		u[i] = le.Uint16(entry[56+2*i:])
	}
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

// GrowPartition grows the partition named label to the end of a disk of
// diskSize bytes, when it is the partition that ends last. It rewrites the
// primary and backup GPT (backup first) and the protective MBR's size. A
// disk whose backup table is already at its end and whose partition already
// reaches the last usable sector is left alone.
func GrowPartition(d Disk, diskSize, sectorSize int64, label string) (GrowResult, error) {
	ss := sectorSize
	res := GrowResult{SectorSize: ss}
	h, err := readHeader(d, 1, ss)
	if err != nil {
		return res, err
	}
	entries := make([]byte, h.entriesSize)
	if _, err := d.ReadAt(entries, h.entriesLBA*ss); err != nil {
		return res, fmt.Errorf("read GPT entries: %w", err)
	}
	if got, want := crc32.ChecksumIEEE(entries), le.Uint32(h.raw[88:92]); got != want {
		return res, fmt.Errorf("GPT entries: CRC %08x, stored %08x", got, want)
	}
	idx, lastIdx := -1, -1
	var lastEnd int64 = -1
	for i := int64(0); i < h.numEntries; i++ {
		e := entries[i*h.entrySize : (i+1)*h.entrySize]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		end := int64(le.Uint64(e[40:48]))
		if end > lastEnd {
			lastEnd, lastIdx = end, int(i)
		}
		if partitionName(e) == label {
			if idx >= 0 {
				return res, fmt.Errorf("GPT has two partitions named %s (%d and %d)", label, idx+1, i+1)
			}
			idx = int(i)
		}
	}
	if idx < 0 {
		return res, fmt.Errorf("GPT has no partition named %s", label)
	}
	e := entries[int64(idx)*h.entrySize : int64(idx+1)*h.entrySize]
	res.Number = idx + 1
	res.Start = int64(le.Uint64(e[32:40]))
	res.OldEnd = int64(le.Uint64(e[40:48]))
	res.NewEnd = res.OldEnd

	total := diskSize / ss
	entrySectors := (h.entriesSize + ss - 1) / ss
	altLBA := total - 1
	altEntriesLBA := altLBA - entrySectors
	lastUsable := altEntriesLBA - 1
	if lastUsable < h.lastUsable {
		return res, fmt.Errorf("disk of %d sectors is smaller than its GPT says (last usable LBA %d)", total, h.lastUsable)
	}
	if h.altLBA == altLBA && res.OldEnd >= lastUsable {
		return res, nil
	}
	if idx == lastIdx && lastUsable > res.OldEnd {
		le.PutUint64(e[40:48], uint64(lastUsable))
		res.NewEnd, res.Grown = lastUsable, true
	}
	res.MovedBackupTable = h.altLBA != altLBA
	crc := crc32.ChecksumIEEE(entries)
	writes := []struct {
		lba  int64
		data []byte
	}{
		{altEntriesLBA, entries},
		{altLBA, h.bytes(altLBA, 1, altEntriesLBA, lastUsable, crc, ss)},
		{h.entriesLBA, entries},
		{1, h.bytes(1, altLBA, h.entriesLBA, lastUsable, crc, ss)},
	}
	for _, w := range writes {
		if _, err := d.WriteAt(w.data, w.lba*ss); err != nil {
			return res, fmt.Errorf("write GPT at LBA %d: %w", w.lba, err)
		}
	}
	if err := fixProtectiveMBR(d, total); err != nil {
		return res, err
	}
	if err := d.Sync(); err != nil {
		return res, fmt.Errorf("sync GPT: %w", err)
	}
	if idx != lastIdx {
		return res, fmt.Errorf("partition %s (%d) is not the last one (partition %d ends later); moved the backup GPT only", label, idx+1, lastIdx+1)
	}
	return res, nil
}

// fixProtectiveMBR sets the size of the 0xEE entry to cover the disk.
func fixProtectiveMBR(d Disk, totalSectors int64) error {
	mbr := make([]byte, 512)
	if _, err := d.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("read protective MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return errors.New("no protective MBR signature")
	}
	for i := 0; i < 4; i++ {
		p := mbr[446+16*i : 446+16*(i+1)]
		if p[4] == 0xEE {
			size := min(totalSectors-1, 0xFFFFFFFF)
			le.PutUint32(p[12:16], uint32(size))
			if _, err := d.WriteAt(p, int64(446+16*i)); err != nil {
				return fmt.Errorf("write protective MBR: %w", err)
			}
			return nil
		}
	}
	return nil
}
