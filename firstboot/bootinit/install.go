package bootinit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Install mode: booted from an installer ISO (appliance.install=), the
// init writes the raw disk layout of /install/layout.json to a local disk
// (the ESP image, the OS image into OS-A, a zeroed OS-B, the secrets
// volume into SECRETS, the image payload into PAYLOAD when the layout has
// one, the small STATE image that the first boot grows), writes the GPT
// last, reads every part back to check its sha256 and reboots into the
// disk. Every partition is zeroed past what is written to it, as in the
// raw image. A disk that holds data is written only with force; otherwise
// the ISO boots live. The layout is the builder's: nothing here knows
// which partition is which by number, every partition is handled alike.
//
// A power cut before the GPT is written leaves the disk's first and last
// MiB zeros, so it counts as empty and the next boot of the ISO installs
// again; with a payload the window is longer (gigabytes are copied and
// read back), not different.

// installWait bounds the wait for a named install target to appear.
const installWait = 10 * time.Second

// installCopyBuffer is the size of the copies to the target disk.
const installCopyBuffer = 4 << 20

// installProgressStep is how often a long copy says how far it got.
const installProgressStep = 1 << 30

// installFromISO installs from the ISO mounted at isoMount, the boot
// medium being boot. It reboots when the install succeeded and returns
// otherwise, having said why.
func installFromISO(lg *log.Logger, target bootparam.InstallTarget, boot BlockDevice) {
	dev, err := chooseInstallTarget(target, boot)
	if err != nil {
		lg.Printf("install: %v; booting live", err)
		return
	}
	if err := installTo(lg, dev, target.Force); err != nil {
		lg.Printf("install: %v; booting live", err)
		return
	}
	lg.Printf("install: done, rebooting")
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		lg.Printf("install: reboot: %v; booting live", err)
	}
}

// chooseInstallTarget returns the /dev path of the disk to install to.
func chooseInstallTarget(target bootparam.InstallTarget, boot BlockDevice) (string, error) {
	bootDisk := boot.Name
	if boot.Disk != "" {
		bootDisk = boot.Disk
	}
	scan := func() ([]BlockDevice, error) { return ScanBlockDevices("/sys", "/dev") }
	if target.Device == bootparam.InstallAuto {
		devs, err := scan()
		if err != nil {
			return "", err
		}
		d, err := PickEmptyDisk(devs, "/sys", "/dev", bootDisk)
		if err != nil {
			return "", err
		}
		return "/dev/" + d.Name, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), installWait)
	defer cancel()
	for {
		dev, err := ResolveInstallDevice(target.Device, "/sys", "/dev")
		if err == nil {
			if _, err = os.Stat(dev); err == nil {
				if filepath.Base(dev) == bootDisk {
					return "", fmt.Errorf("%s (%s) is the boot medium", target.Device, dev)
				}
				return dev, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("target %s: %w", target.Device, err)
		case <-time.After(devicePoll):
		}
	}
}

// installTo checks the disk at dev and writes the layout to it.
func installTo(lg *log.Logger, dev string, force bool) error {
	layout, err := ReadInstallLayout(filepath.Join(isoMount, bootparam.InstallLayoutPath))
	if err != nil {
		return err
	}
	// O_EXCL on a block device fails while it is mounted or in use.
	disk, err := os.OpenFile(dev, os.O_RDWR|os.O_EXCL, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dev, err)
	}
	defer disk.Close()
	size, err := unix.IoctlGetInt(int(disk.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return fmt.Errorf("size of %s: %w", dev, err)
	}
	ss, err := unix.IoctlGetInt(int(disk.Fd()), unix.BLKSSZGET)
	if err != nil {
		return fmt.Errorf("sector size of %s: %w", dev, err)
	}
	if int64(ss) != layout.SectorSize {
		return fmt.Errorf("%s has %d-byte sectors; the layout is for %d-byte sectors", dev, ss, layout.SectorSize)
	}
	content, err := DiskContent(disk, int64(size))
	if err != nil {
		return fmt.Errorf("%s: %w", dev, err)
	}
	if content != "" && !force {
		return fmt.Errorf("%s holds data (%s); add force to overwrite", dev, content)
	}
	if content != "" {
		lg.Printf("install: %s holds data (%s); overwriting it (force)", dev, content)
	}
	lg.Printf("install: writing to %s (%d MiB)", dev, size>>20)
	start := time.Now()
	err = WriteInstall(InstallOptions{
		Layout: layout, SourceRoot: isoMount, Disk: disk, DiskSize: int64(size), Log: lg,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", dev, err)
	}
	lg.Printf("install: wrote and verified %s in %s", dev, time.Since(start).Round(time.Millisecond))
	return nil
}

// ReadInstallLayout reads and checks layout.json.
func ReadInstallLayout(path string) (bootparam.InstallLayout, error) {
	var l bootparam.InstallLayout
	data, err := os.ReadFile(path)
	if err != nil {
		return l, fmt.Errorf("install layout: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf("install layout %s: %w", path, err)
	}
	if l.SectorSize <= 0 || len(l.Partitions) == 0 {
		return l, fmt.Errorf("install layout %s: no sector size or no partitions", path)
	}
	for _, p := range l.Partitions {
		if p.Source != "" && (p.Size > p.Sectors*l.SectorSize || len(p.SHA256) != 2*sha256.Size) {
			return l, fmt.Errorf("install layout %s: partition %s: source %s of %d bytes with sha256 %q does not fit its %d sectors",
				path, p.Name, p.Source, p.Size, p.SHA256, p.Sectors)
		}
	}
	return l, nil
}

// InstallOptions are what WriteInstall writes, and where.
type InstallOptions struct {
	Layout bootparam.InstallLayout
	// SourceRoot is the directory the layout's Source paths are under
	// (the mounted ISO).
	SourceRoot string
	// Disk is the target: a whole-disk device or, in tests, an image file.
	Disk     *os.File
	DiskSize int64
	Log      *log.Logger
}

// WriteInstall writes the layout to the disk: it clears the old partition
// table and signatures, writes every partition's source (checking the
// sha256 of what it read) and zeroes the partitions without one, writes
// the GPT last, so an interrupted install leaves no bootable-looking disk,
// syncs, drops the disk's cache and reads every part back to verify it.
func WriteInstall(o InstallOptions) error {
	ss := o.Layout.SectorSize
	var end int64
	for _, p := range o.Layout.Partitions {
		end = max(end, (p.FirstLBA+p.Sectors)*ss)
	}
	// The backup GPT takes 33 sectors at the disk's end.
	if need := end + 33*ss; o.DiskSize < need {
		return fmt.Errorf("disk of %d MiB is too small: the layout needs %d MiB", o.DiskSize>>20, (need+(1<<20)-1)>>20)
	}
	clearLen := min(int64(emptyCheckSize), o.DiskSize)
	for _, off := range []int64{0, o.DiskSize - clearLen} {
		if err := zeroRange(o.Disk, off, clearLen); err != nil {
			return fmt.Errorf("clear old partition table: %w", err)
		}
	}
	buf := make([]byte, installCopyBuffer)
	for _, p := range o.Layout.Partitions {
		start := p.FirstLBA * ss
		if p.Source == "" {
			if err := zeroRange(o.Disk, start, p.Sectors*ss); err != nil {
				return fmt.Errorf("zero partition %s: %w", p.Name, err)
			}
			o.Log.Printf("install: zeroed %s (%d MiB)", p.Name, p.Sectors*ss>>20)
			continue
		}
		if err := copySource(o, p, buf); err != nil {
			return err
		}
		// The sources are stored without trailing zeros, and a forced
		// install must not leave old data in a fresh filesystem's free
		// space (STATE's ext4 assumes zeroed inode tables).
		if err := zeroPast(o.Disk, start, p.Size, p.Sectors*ss, ss); err != nil {
			return fmt.Errorf("zero partition %s past %s: %w", p.Name, p.Source, err)
		}
		o.Log.Printf("install: wrote %s (%s, %d MiB), zeroed the rest (%d MiB)", p.Name, p.Source, p.Size>>20, (p.Sectors*ss-p.Size)>>20)
	}
	if err := writeInstallGPT(o); err != nil {
		return err
	}
	if err := o.Disk.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	// Verify the disk, not the page cache: BLKFLSBUF writes back and drops
	// the device's cached pages (a regular file answers ENOTTY).
	if err := unix.IoctlSetInt(int(o.Disk.Fd()), unix.BLKFLSBUF, 0); err != nil && !errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("drop the disk's cache before verifying: %w", err)
	}
	return VerifyInstall(o.Disk, o.DiskSize, o.Layout)
}

// copySource copies p's source to its partition, hashing what it read.
func copySource(o InstallOptions, p bootparam.InstallPartition, buf []byte) error {
	src, err := os.Open(filepath.Join(o.SourceRoot, p.Source))
	if err != nil {
		return fmt.Errorf("partition %s: %w", p.Name, err)
	}
	defer src.Close()
	h := sha256.New()
	w := &progressWriter{w: io.NewOffsetWriter(o.Disk, p.FirstLBA*o.Layout.SectorSize), log: o.Log, name: p.Name, total: p.Size, step: installProgressStep}
	n, err := io.CopyBuffer(w, io.TeeReader(io.LimitReader(struct{ io.Reader }{src}, p.Size+1), h), buf)
	if err != nil {
		return fmt.Errorf("partition %s: write %s: %w", p.Name, p.Source, err)
	}
	if n != p.Size {
		return fmt.Errorf("partition %s: %s has %d bytes, the layout says %d", p.Name, p.Source, n, p.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("partition %s: %s on the boot medium has sha256 %s, the layout says %s (a damaged medium?)", p.Name, p.Source, got, p.SHA256)
	}
	return nil
}

// progressWriter says every step bytes how much of a partition's source
// it wrote: a payload of gigabytes takes minutes.
type progressWriter struct {
	w                 io.Writer
	log               *log.Logger
	name              string
	total, done, step int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	before := p.done
	p.done += int64(n)
	if p.done/p.step > before/p.step && p.done < p.total {
		p.log.Printf("install: %s: %d of %d MiB written", p.name, p.done>>20, p.total>>20)
	}
	return n, err
}

// writeInstallGPT writes the protective MBR and both GPTs, the backup at
// the disk's end.
func writeInstallGPT(o InstallOptions) error {
	ss := o.Layout.SectorSize
	table := &gpt.Table{
		LogicalSectorSize:  int(ss),
		PhysicalSectorSize: int(ss),
		GUID:               o.Layout.DiskGUID,
		ProtectiveMBR:      true,
	}
	for i, p := range o.Layout.Partitions {
		table.Partitions = append(table.Partitions, &gpt.Partition{
			Index:      i + 1,
			Start:      uint64(p.FirstLBA),
			End:        uint64(p.FirstLBA + p.Sectors - 1),
			Size:       uint64(p.Sectors * ss),
			Type:       gpt.Type(p.TypeGUID),
			Name:       p.Name,
			GUID:       p.UniqueGUID,
			Attributes: uint64(p.Attributes),
		})
	}
	if err := table.Write(o.Disk, o.DiskSize); err != nil {
		return fmt.Errorf("write GPT: %w", err)
	}
	return nil
}

// VerifyInstall reads the disk back: its GPT must be the layout's and each
// partition must start with its source's bytes (by sha256), or zeros.
func VerifyInstall(disk *os.File, size int64, layout bootparam.InstallLayout) error {
	ss := layout.SectorSize
	table, err := gpt.Read(disk, int(ss), int(ss))
	if err != nil {
		return fmt.Errorf("verify: read GPT: %w", err)
	}
	if !strings.EqualFold(table.GUID, layout.DiskGUID) {
		return fmt.Errorf("verify: GPT disk GUID %s, want %s", table.GUID, layout.DiskGUID)
	}
	if len(table.Partitions) < len(layout.Partitions) {
		return fmt.Errorf("verify: GPT has %d partitions, want %d", len(table.Partitions), len(layout.Partitions))
	}
	buf := make([]byte, installCopyBuffer)
	for i, want := range layout.Partitions {
		got := table.Partitions[i]
		if got.Name != want.Name || int64(got.Start) != want.FirstLBA || int64(got.End) != want.FirstLBA+want.Sectors-1 ||
			!strings.EqualFold(got.GUID, want.UniqueGUID) || !strings.EqualFold(string(got.Type), want.TypeGUID) ||
			got.Attributes != uint64(want.Attributes) {
			return fmt.Errorf("verify: GPT partition %d is %s LBA %d-%d attributes %#x, want %s LBA %d-%d attributes %#x",
				i+1, got.Name, got.Start, got.End, got.Attributes, want.Name, want.FirstLBA, want.FirstLBA+want.Sectors-1, want.Attributes)
		}
		section := io.NewSectionReader(disk, want.FirstLBA*ss, want.Sectors*ss)
		if want.Source == "" {
			head := make([]byte, min(int64(emptyCheckSize), want.Sectors*ss))
			if _, err := section.ReadAt(head, 0); err != nil {
				return fmt.Errorf("verify: read partition %s: %w", want.Name, err)
			}
			if !allZero(head) {
				return fmt.Errorf("verify: partition %s is not zeroed", want.Name)
			}
			continue
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(section, 0, want.Size), buf); err != nil {
			return fmt.Errorf("verify: read partition %s: %w", want.Name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
			return fmt.Errorf("verify: partition %s reads back with sha256 %s, want %s", want.Name, got, want.SHA256)
		}
		tail := make([]byte, min(int64(emptyCheckSize), want.Sectors*ss-want.Size))
		if _, err := section.ReadAt(tail, want.Size); err != nil && len(tail) > 0 {
			return fmt.Errorf("verify: read partition %s: %w", want.Name, err)
		}
		if !allZero(tail) {
			return fmt.Errorf("verify: partition %s is not zeroed after %s", want.Name, want.Source)
		}
	}
	return nil
}

// zeroPast zeroes a partition of partSize bytes at start from byte used
// on: the partial sector by writing, the rest with zeroRange.
func zeroPast(f *os.File, start, used, partSize, ss int64) error {
	aligned := min((used+ss-1)/ss*ss, partSize)
	if aligned > used {
		if _, err := f.WriteAt(make([]byte, aligned-used), start+used); err != nil {
			return err
		}
	}
	return zeroRange(f, start+aligned, partSize-aligned)
}

// zeroRange zeroes length bytes of f at off: with BLKZEROOUT on a block
// device (the disk may do it without transferring zeros), else by writing.
func zeroRange(f *os.File, off, length int64) error {
	rng := [2]uint64{uint64(off), uint64(length)}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKZEROOUT, uintptr(unsafe.Pointer(&rng)))
	if errno == 0 {
		return nil
	}
	zeros := make([]byte, min(length, installCopyBuffer))
	for done := int64(0); done < length; {
		n := min(int64(len(zeros)), length-done)
		if _, err := f.WriteAt(zeros[:n], off+done); err != nil {
			return err
		}
		done += n
	}
	return nil
}
