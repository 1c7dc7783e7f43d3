package imagepayload

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/imageregistry"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Where a payload was found, Location.Kind.
const (
	KindState     = "STATE"
	KindPartition = "PARTLABEL=" + bootparam.LabelPayload
	KindISO       = "ISO"
	// KindFile and KindDevice are a file and a block device named by
	// hand (`firstboot registry serve --payload`).
	KindFile   = "file"
	KindDevice = "device"
)

// PartLabelLink is udev's link to the payload partition.
const PartLabelLink = "/dev/disk/by-partlabel/" + bootparam.LabelPayload

// Location is one place a payload may be.
type Location struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Path is what is opened (a path of the host): a regular file, or for
	// KindPartition a block device (PartLabelLink or /dev/<name>).
	Path string `json:"path"`
	// Target is where PartLabelLink points, for messages.
	Target string `json:"target,omitempty"`
}

// Device says whether a block device is expected at l.Path.
func (l Location) Device() bool { return l.Kind == KindPartition || l.Kind == KindDevice }

// String names the location for a console line: "PARTLABEL=PAYLOAD
// (/dev/vda4)", "STATE (/var/lib/appliance/payload/<hex>.tar)", "ISO
// (/run/appliance/iso/appliance/payload.tar)".
func (l Location) String() string {
	if l.Target != "" {
		return l.Kind + " (" + l.Target + ")"
	}
	return l.Kind + " (" + l.Path + ")"
}

// Attempt is one location Find looked at and why it was not taken; Err
// satisfies errors.Is(err, fs.ErrNotExist) when nothing was there.
type Attempt struct {
	Location Location
	Err      error
}

// Payload is a payload opened and checked.
type Payload struct {
	Location Location
	// Layout serves the payload (package imageregistry).
	Layout *imageregistry.Layout
	file   *os.File
}

// Close closes the file or device.
func (p *Payload) Close() error { return p.file.Close() }

// Locations lists where the payload d names may be on the host at root,
// in the order Find tries them. The partition is PartLabelLink when udev
// made it, else each partition of that name /sys/class/block lists.
func Locations(root string, d payload.ImagePayload) []Location {
	hex := strings.TrimPrefix(d.Index, "sha256:")
	locs := []Location{{Kind: KindState, Path: path.Join(payload.ImagePayloadStateDir, hex+".tar")}}
	if _, err := os.Lstat(filepath.Join(root, PartLabelLink)); err == nil {
		loc := Location{Kind: KindPartition, Path: PartLabelLink}
		if target, err := os.Readlink(filepath.Join(root, PartLabelLink)); err == nil {
			loc.Target = path.Join(path.Dir(PartLabelLink), target)
			if path.IsAbs(target) {
				loc.Target = path.Clean(target)
			}
		}
		locs = append(locs, loc)
	} else {
		locs = append(locs, scanPartitions(root)...)
	}
	return append(locs, Location{Kind: KindISO, Path: bootparam.ISOMount + bootparam.ISOPayloadPath})
}

// kernelName is a block device's kernel name (vda4, nvme0n1p4, sdb2).
var kernelName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// scanPartitions lists the partitions named bootparam.LabelPayload in
// /sys/class/block, or PartLabelLink alone (to be reported missing) when
// there are none or /sys cannot be read.
func scanPartitions(root string) []Location {
	// An error leaves devs empty: the link is reported missing.
	devs, _ := bootinit.ScanBlockDevices(filepath.Join(root, "sys"), "")
	var locs []Location
	for _, d := range devs {
		if d.PartName == bootparam.LabelPayload && kernelName.MatchString(d.Name) {
			locs = append(locs, Location{Kind: KindPartition, Path: "/dev/" + d.Name})
		}
	}
	if len(locs) == 0 {
		return []Location{{Kind: KindPartition, Path: PartLabelLink}}
	}
	return locs
}

// Find opens the first location of Locations that holds the payload d
// names, checked by imageregistry.Open. attempts says why each location
// before it (all of them when p is nil) was not taken.
func Find(root string, d payload.ImagePayload) (p *Payload, attempts []Attempt) {
	for _, loc := range Locations(root, d) {
		p, err := Open(root, loc, d)
		if err == nil {
			return p, attempts
		}
		attempts = append(attempts, Attempt{Location: loc, Err: err})
	}
	return nil, attempts
}

// Open opens the payload at loc (under root) read-only and checks it is
// the one d names: a regular file of d.Size bytes, or for a partition a
// block device of at least d.Size bytes, whose tar's index.json has the
// digest d.Index. A file is not followed if it is a symbolic link; the
// partition's udev link is.
func Open(root string, loc Location, d payload.ImagePayload) (*Payload, error) {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	if !loc.Device() {
		flags |= unix.O_NOFOLLOW
	}
	f, err := os.OpenFile(filepath.Join(root, loc.Path), flags, 0)
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s is a symbolic link, not a regular file", loc.Path)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", loc.Path, smallfile.Cause(err))
	}
	p, err := check(f, loc, d)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// check sizes the open f and indexes it.
func check(f *os.File, loc Location, d payload.ImagePayload) (*Payload, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", loc.Path, err)
	}
	var size int64
	switch mode := info.Mode(); {
	case loc.Device() && (mode&fs.ModeDevice == 0 || mode&fs.ModeCharDevice != 0):
		return nil, fmt.Errorf("%s is %s, not a block device", loc.Path, smallfile.Kind(mode))
	case loc.Device():
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			return nil, fmt.Errorf("size of %s: %w", loc.Path, err)
		}
	case !mode.IsRegular():
		return nil, fmt.Errorf("%s is %s, not a regular file", loc.Path, smallfile.Kind(mode))
	default:
		size = info.Size()
	}
	switch {
	case loc.Device() && size < d.Size:
		return nil, fmt.Errorf("%s holds %d bytes, the payload has %d", loc.Path, size, d.Size)
	case !loc.Device() && size != d.Size:
		return nil, fmt.Errorf("%s is %d bytes, the payload is %d", loc.Path, size, d.Size)
	}
	layout, err := imageregistry.Open(f, d.Size, d.Index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc.Path, err)
	}
	return &Payload{Location: loc, Layout: layout, file: f}, nil
}
