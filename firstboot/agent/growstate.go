package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Mount is one line of /proc/self/mountinfo, the fields the agent uses.
type Mount struct {
	MountPoint, FSType, Source string
}

// FindMount returns the last mount at mountPoint listed in root/proc/self/mountinfo
// (the one on top), and false when nothing is mounted there.
func FindMount(root, mountPoint string) (Mount, bool, error) {
	path := filepath.Join(root, "proc/self/mountinfo")
	f, err := os.Open(path)
	if err != nil {
		return Mount{}, false, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var found Mount
	ok := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional...] - fstype source superoptions
		pre, post, hasSep := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !hasSep || len(fields) < 5 || len(tail) < 2 {
			return Mount{}, false, fmt.Errorf("parse %s: bad line %q", path, sc.Text())
		}
		if unescapeMountinfo(fields[4]) == mountPoint {
			found, ok = Mount{MountPoint: mountPoint, FSType: tail[0], Source: unescapeMountinfo(tail[1])}, true
		}
	}
	if err := sc.Err(); err != nil {
		return Mount{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	return found, ok, nil
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Ext4Size reads the size in bytes of the ext2/3/4 filesystem on dev from its
// superblock.
func Ext4Size(dev string) (int64, error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, fmt.Errorf("read superblock: %w", err)
	}
	defer f.Close()
	var sb [1024]byte
	if _, err := f.ReadAt(sb[:], 1024); err != nil {
		return 0, fmt.Errorf("read superblock of %s: %w", dev, err)
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xEF53 {
		return 0, fmt.Errorf("read superblock of %s: no ext2/3/4 magic", dev)
	}
	blocks := uint64(binary.LittleEndian.Uint32(sb[0x4:]))
	const incompat64bit = 0x80
	if binary.LittleEndian.Uint32(sb[0x60:])&incompat64bit != 0 {
		blocks |= uint64(binary.LittleEndian.Uint32(sb[0x150:])) << 32
	}
	blockSize := uint64(1024) << binary.LittleEndian.Uint32(sb[0x18:])
	return int64(blocks * blockSize), nil
}

// growState grows the STATE filesystem to fill its partition, which the
// initramfs has already grown. resize2fs grows a mounted ext4 online.
func growState(ctx context.Context, env *Env) error {
	m, ok, err := FindMount(env.Root, bootparam.StateMount)
	if err != nil {
		return err
	}
	if !ok {
		env.Printf("grow-state: nothing mounted at %s (state in RAM), nothing to grow", bootparam.StateMount)
		return nil
	}
	if m.FSType != "ext4" {
		return fmt.Errorf("STATE %s at %s is %s, want ext4", m.Source, bootparam.StateMount, m.FSType)
	}
	dev := env.Path(m.Source)
	before, err := Ext4Size(dev)
	if err != nil {
		return err
	}
	if _, err := env.Runner.Run(ctx, "resize2fs", dev); err != nil {
		return fmt.Errorf("grow STATE %s: %w", m.Source, err)
	}
	after, err := Ext4Size(dev)
	if err != nil {
		return err
	}
	if after < before {
		return errors.New("grow STATE " + m.Source + ": filesystem shrank")
	}
	env.Printf("grow-state: %s is %s (was %s)", m.Source, humanSize(after), humanSize(before))
	return nil
}

// humanSize prints a byte count in binary units with one decimal.
func humanSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
