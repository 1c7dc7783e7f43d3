package diskimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// FAT32 on-disk constants (Microsoft FAT specification).
const (
	fatDirEntrySize = 32
	fatAttrLFN      = 0x0f
	fatAttrLabel    = 0x08
	fatAttrDir      = 0x10
	fatEntryFree    = 0xe5
	fatEOC          = 0x0ffffff8
	fatMaxDepth     = 32
	fatFreeUnknown  = 0xffffffff
)

// fixFAT32 repairs and normalises, in place, the FAT32 filesystem that
// go-diskfs v1.9.4 wrote at start, so that fsck.fat finds nothing and two
// writes are byte-identical:
//
//   - Volume serial number (boot sector and backup) := volumeID, and every
//     timestamp of every directory entry (files, directories, ".", "..",
//     volume label) := mod. go-diskfs takes these from the clock (or from
//     SOURCE_DATE_EPOCH, which a library must not set for its caller) and
//     has no API for "." and ".." or the label.
//   - Its sectors-per-FAT formula can leave more clusters than FAT entries
//     (64 MiB: 129024 clusters, 129022 entries). The total sector count is
//     lowered to what the FAT maps; go-diskfs never allocates past the FAT.
//   - ".." of a directory in the root must point at cluster 0; go-diskfs
//     points it at the root's cluster.
//   - An empty file must have no clusters; go-diskfs gives it one.
//   - The FSInfo free cluster count, left "unknown", is set.
func fixFAT32(dev fatDevice, start int64, volumeID uint32, mod time.Time) error {
	v, err := readFATVolume(dev, start)
	if err != nil {
		return err
	}
	if err := v.clampTotalSectors(); err != nil {
		return err
	}
	if err := v.writeBootField(67, volumeID); err != nil {
		return fmt.Errorf("write volume ID: %w", err)
	}
	date, tm, tenths := fatTimestamp(mod)
	v.stamp = func(e []byte) {
		e[13] = tenths
		binary.LittleEndian.PutUint16(e[14:16], tm)   // creation time
		binary.LittleEndian.PutUint16(e[16:18], date) // creation date
		binary.LittleEndian.PutUint16(e[18:20], date) // last access date
		binary.LittleEndian.PutUint16(e[22:24], tm)   // write time
		binary.LittleEndian.PutUint16(e[24:26], date) // write date
	}
	if err := v.walkDir(v.rootCluster, 0, 0); err != nil {
		return err
	}
	return v.writeFATs()
}

type fatDevice interface {
	io.ReaderAt
	io.WriterAt
}

// fatVolume is a FAT32 filesystem being fixed.
type fatVolume struct {
	dev               fatDevice
	start             int64
	bytesPerSector    int64
	sectorsPerCluster int64
	clusterSize       int64
	reserved          int64
	fats              int64
	fatSectors        int64
	dataStart         int64 // byte offset of cluster 2 in dev
	backupBootSector  int64
	fsInfoSector      int64
	rootCluster       uint32
	clusterCount      uint32
	fat               []byte // the first FAT, as it will be written to all
	stamp             func(entry []byte)
}

func readFATVolume(dev fatDevice, start int64) (*fatVolume, error) {
	bs := make([]byte, 512)
	if _, err := dev.ReadAt(bs, start); err != nil {
		return nil, fmt.Errorf("read boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xaa || string(bs[82:90]) != "FAT32   " {
		return nil, errors.New("no FAT32 boot sector")
	}
	le16 := func(o int) int64 { return int64(binary.LittleEndian.Uint16(bs[o:])) }
	le32 := func(o int) int64 { return int64(binary.LittleEndian.Uint32(bs[o:])) }
	v := &fatVolume{
		dev:               dev,
		start:             start,
		bytesPerSector:    le16(11),
		sectorsPerCluster: int64(bs[13]),
		reserved:          le16(14),
		fats:              int64(bs[16]),
		fatSectors:        le32(36),
		rootCluster:       uint32(le32(44)),
		fsInfoSector:      le16(48),
		backupBootSector:  le16(50),
	}
	if v.bytesPerSector < 512 || v.sectorsPerCluster == 0 || v.fats == 0 || v.fatSectors == 0 {
		return nil, errors.New("invalid FAT32 boot sector")
	}
	v.clusterSize = v.sectorsPerCluster * v.bytesPerSector
	meta := v.reserved + v.fats*v.fatSectors
	v.dataStart = start + meta*v.bytesPerSector
	v.clusterCount = uint32((le32(32) - meta) / v.sectorsPerCluster)
	v.fat = make([]byte, v.fatSectors*v.bytesPerSector)
	if _, err := dev.ReadAt(v.fat, start+v.reserved*v.bytesPerSector); err != nil {
		return nil, fmt.Errorf("read FAT: %w", err)
	}
	return v, nil
}

// writeBootField writes a 32-bit field of the boot sector and its backup.
func (v *fatVolume) writeBootField(offset int64, value uint32) error {
	b := binary.LittleEndian.AppendUint32(nil, value)
	for _, sector := range []int64{0, v.backupBootSector} {
		if _, err := v.dev.WriteAt(b, v.start+sector*v.bytesPerSector+offset); err != nil {
			return err
		}
	}
	return nil
}

// clampTotalSectors lowers the total sector count so that every cluster
// has a FAT entry (entries 0 and 1 are reserved).
func (v *fatVolume) clampTotalSectors() error {
	mapped := uint32(len(v.fat)/4 - 2)
	if v.clusterCount <= mapped {
		return nil
	}
	v.clusterCount = mapped
	total := v.reserved + v.fats*v.fatSectors + int64(mapped)*v.sectorsPerCluster
	if err := v.writeBootField(32, uint32(total)); err != nil {
		return fmt.Errorf("write total sectors: %w", err)
	}
	return nil
}

func (v *fatVolume) next(c uint32) uint32 {
	return binary.LittleEndian.Uint32(v.fat[4*c:]) & 0x0fffffff
}

// chain is the list of clusters of the file or directory starting at first.
func (v *fatVolume) chain(first uint32) ([]uint32, error) {
	var clusters []uint32
	for c := first; c < fatEOC; c = v.next(c) {
		if c < 2 || c-2 >= v.clusterCount || len(clusters) >= int(v.clusterCount) {
			return nil, fmt.Errorf("bad cluster chain from %d at %d", first, c)
		}
		clusters = append(clusters, c)
	}
	return clusters, nil
}

// free marks the chain starting at first free.
func (v *fatVolume) free(first uint32) error {
	clusters, err := v.chain(first)
	if err != nil {
		return err
	}
	for _, c := range clusters {
		binary.LittleEndian.PutUint32(v.fat[4*c:], 0)
	}
	return nil
}

// writeFATs writes the FAT to every FAT copy and the free cluster count
// to the FSInfo sector and its backup.
func (v *fatVolume) writeFATs() error {
	for i := range v.fats {
		if _, err := v.dev.WriteAt(v.fat, v.start+(v.reserved+i*v.fatSectors)*v.bytesPerSector); err != nil {
			return fmt.Errorf("write FAT %d: %w", i+1, err)
		}
	}
	var free uint32
	for c := uint32(2); c < min(v.clusterCount+2, uint32(len(v.fat)/4)); c++ {
		if v.next(c) == 0 {
			free++
		}
	}
	b := binary.LittleEndian.AppendUint32(nil, free)
	b = binary.LittleEndian.AppendUint32(b, fatFreeUnknown) // next free: no hint
	for _, sector := range []int64{v.fsInfoSector, v.backupBootSector + 1} {
		if _, err := v.dev.WriteAt(b, v.start+sector*v.bytesPerSector+488); err != nil {
			return fmt.Errorf("write FSInfo: %w", err)
		}
	}
	return nil
}

// walkDir fixes every in-use short entry of the directory at cluster dir
// (whose parent directory is at cluster parent, 0 for the root) and of its
// subdirectories, and writes them back.
func (v *fatVolume) walkDir(dir, parent uint32, depth int) error {
	if depth > fatMaxDepth {
		return fmt.Errorf("directories nested deeper than %d", fatMaxDepth)
	}
	clusters, err := v.chain(dir)
	if err != nil {
		return err
	}
	self := dir
	if dir == v.rootCluster {
		self = 0 // ".." of the root's children points at 0
	}
	buf := make([]byte, v.clusterSize)
	for _, c := range clusters {
		off := v.dataStart + int64(c-2)*v.clusterSize
		if _, err := v.dev.ReadAt(buf, off); err != nil {
			return fmt.Errorf("read directory cluster %d: %w", c, err)
		}
		var subdirs []uint32
		end := false
		for i := 0; i < len(buf) && !end; i += fatDirEntrySize {
			e := buf[i : i+fatDirEntrySize]
			if e[0] == 0 {
				end = true
				break
			}
			if e[0] == fatEntryFree || e[11] == fatAttrLFN {
				continue
			}
			v.stamp(e)
			first := uint32(binary.LittleEndian.Uint16(e[20:22]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:28]))
			size := binary.LittleEndian.Uint32(e[28:32])
			switch name := string(e[0:11]); {
			case name == "..         ":
				setFirstCluster(e, parent)
			case name == ".          ":
			case e[11]&fatAttrDir != 0:
				subdirs = append(subdirs, first)
			case e[11]&fatAttrLabel == 0 && size == 0 && first != 0:
				if err := v.free(first); err != nil {
					return err
				}
				setFirstCluster(e, 0)
			}
		}
		if _, err := v.dev.WriteAt(buf, off); err != nil {
			return fmt.Errorf("write directory cluster %d: %w", c, err)
		}
		for _, sub := range subdirs {
			if err := v.walkDir(sub, self, depth+1); err != nil {
				return err
			}
		}
		if end {
			break
		}
	}
	return nil
}

func setFirstCluster(e []byte, c uint32) {
	binary.LittleEndian.PutUint16(e[20:22], uint16(c>>16))
	binary.LittleEndian.PutUint16(e[26:28], uint16(c))
}

// fatTimestamp encodes t (in UTC, clamped to FAT's 1980..2107 range) as a
// FAT date, time (2-second resolution) and creation tenths (10 ms units).
func fatTimestamp(t time.Time) (date, tm uint16, tenths uint8) {
	t = t.UTC()
	if lo := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(lo) {
		t = lo
	}
	if hi := time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC); t.After(hi) {
		t = hi
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	return date, tm, uint8(t.Second()%2) * 100
}
