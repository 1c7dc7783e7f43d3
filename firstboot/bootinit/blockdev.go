package bootinit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BlockDevice is one entry of /sys/class/block.
type BlockDevice struct {
	Name     string // kernel name, e.g. "vda2"
	Disk     string // the whole disk of a partition, e.g. "vda"; "" for a disk
	PartN    int    // partition number; 0 for a disk
	PartName string // GPT partition name
	Label    string // filesystem label (ext4, ISO 9660), if one was read
	FSType   string // "ext4" or "iso9660" when Label was read, else ""
	Size     int64  // bytes
}

// String describes the device for diagnostics.
func (d BlockDevice) String() string {
	s := fmt.Sprintf("%s %d MiB", d.Name, d.Size>>20)
	if d.PartName != "" {
		s += " PARTNAME=" + d.PartName
	}
	if d.Label != "" {
		s += " LABEL=" + d.Label
	}
	return s
}

// Matches tells whether d is the device spec names.
func (d BlockDevice) Matches(s Spec) bool {
	switch s.Key {
	case "PARTLABEL":
		return d.PartName == s.Value
	case "LABEL":
		return d.Label == s.Value
	case "ISO":
		return d.FSType == fsISO9660 && d.Label == s.Value
	case "PATH":
		return "/dev/"+d.Name == s.Value
	}
	return false
}

// ScanBlockDevices lists the block devices of sysRoot (normally "/sys")
// sorted by name, reading filesystem labels from the nodes under devRoot
// (normally "/dev"; "" skips labels).
func ScanBlockDevices(sysRoot, devRoot string) ([]BlockDevice, error) {
	classDir := filepath.Join(sysRoot, "class/block")
	entries, err := os.ReadDir(classDir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var devs []BlockDevice
	for _, e := range entries {
		dir := filepath.Join(classDir, e.Name())
		uevent, err := os.ReadFile(filepath.Join(dir, "uevent"))
		if err != nil {
			return nil, fmt.Errorf("block device %s: %w", e.Name(), err)
		}
		d := BlockDevice{Name: e.Name()}
		var isPart bool
		for _, line := range strings.Split(string(uevent), "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "DEVNAME":
				d.Name = v
			case "DEVTYPE":
				isPart = v == "partition"
			case "PARTN":
				d.PartN, _ = strconv.Atoi(v)
			case "PARTNAME":
				d.PartName = v
			}
		}
		if sectors, err := os.ReadFile(filepath.Join(dir, "size")); err == nil {
			n, _ := strconv.ParseInt(strings.TrimSpace(string(sectors)), 10, 64)
			d.Size = n * 512
		}
		if isPart {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				d.Disk = filepath.Base(filepath.Dir(real))
			}
		}
		if devRoot != "" && d.Size > 0 {
			d.FSType, d.Label = readLabel(filepath.Join(devRoot, d.Name))
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	return devs, nil
}

// Filesystem types readLabel recognises, as mount(2) names them.
const (
	fsExt4    = "ext4"
	fsISO9660 = "iso9660"
)

// readLabel returns the type and label of the ext2/3/4 or ISO 9660
// filesystem on the device at path, or "", "" when it has neither.
func readLabel(path string) (fstype, label string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	buf := make([]byte, 2048)
	if _, err := f.ReadAt(buf, 1024); err == nil && binary.LittleEndian.Uint16(buf[56:58]) == 0xEF53 {
		return fsExt4, cString(buf[120:136])
	}
	if _, err := f.ReadAt(buf, 32768); err == nil && string(buf[1:6]) == "CD001" {
		return fsISO9660, strings.TrimRight(string(buf[40:72]), " \x00")
	}
	return "", ""
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// DeviceNotFoundError says what the init looked for and what it found.
type DeviceNotFoundError struct {
	Spec  Spec
	Found []BlockDevice
	// Matches is set when more than one device matched.
	Matches []BlockDevice
}

func (e *DeviceNotFoundError) Error() string {
	var b strings.Builder
	if len(e.Matches) > 1 {
		fmt.Fprintf(&b, "%d devices match %s, want exactly one", len(e.Matches), e.Spec)
	} else {
		fmt.Fprintf(&b, "no device matches %s", e.Spec)
	}
	fmt.Fprintf(&b, "\nlooked for: %s\nfound %d block devices:", e.Spec, len(e.Found))
	for _, d := range e.Found {
		b.WriteString("\n  " + d.String())
	}
	return b.String()
}

// Find returns the one device in devs that matches spec. A whole disk that
// matches along with partitions of its own counts as one match, the disk: a
// hybrid ISO written to a USB stick has the ISO 9660 volume at the start of
// the disk, and its first partition may start there too.
func Find(spec Spec, devs []BlockDevice) (BlockDevice, error) {
	var matches []BlockDevice
	for _, d := range devs {
		if d.Matches(spec) {
			matches = append(matches, d)
		}
	}
	if d, ok := wholeDisk(matches); ok {
		return d, nil
	}
	if len(matches) != 1 {
		return BlockDevice{}, &DeviceNotFoundError{Spec: spec, Found: devs, Matches: matches}
	}
	return matches[0], nil
}

// WaitFor polls scan every interval until exactly one device matches spec
// or ctx ends; then it returns the last scan's answer.
func WaitFor(ctx context.Context, spec Spec, scan func() ([]BlockDevice, error), interval time.Duration) (BlockDevice, error) {
	for {
		devs, err := scan()
		if err != nil {
			return BlockDevice{}, err
		}
		d, err := Find(spec, devs)
		if err == nil {
			return d, nil
		}
		// Several matches will not resolve by waiting.
		var nf *DeviceNotFoundError
		if errors.As(err, &nf) && len(nf.Matches) > 1 {
			return BlockDevice{}, err
		}
		select {
		case <-ctx.Done():
			return BlockDevice{}, err
		case <-time.After(interval):
		}
	}
}

// wholeDisk returns the disk among devs when devs are one disk and some of
// its partitions.
func wholeDisk(devs []BlockDevice) (BlockDevice, bool) {
	if len(devs) < 2 {
		return BlockDevice{}, false
	}
	var disk BlockDevice
	for _, d := range devs {
		if d.Disk == "" {
			if disk.Name != "" {
				return BlockDevice{}, false
			}
			disk = d
		}
	}
	if disk.Name == "" {
		return BlockDevice{}, false
	}
	for _, d := range devs {
		if d.Disk != "" && d.Disk != disk.Name {
			return BlockDevice{}, false
		}
	}
	return disk, true
}
