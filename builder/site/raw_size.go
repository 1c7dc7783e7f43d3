package site

import "github.com/ml-appliance/appliance/builder/diskimage"

// MaxRawSize is the largest outputs.raw.size. An image larger than its OS
// needs buys nothing, as STATE grows to fill the real disk at first boot,
// and costs much: dd writes every byte of it (4 TiB is hours at disk
// speed), and a build host's ext4 cannot hold a file of 16 TiB (its
// truncate fails "File too large" at the end of a build).
const MaxRawSize = 4 << 40

// checkRawSize checks outputs.raw.size against the disk layout
// (diskimage.MinSize), so a size that cannot work fails validation rather
// than the build's last step. The OS image and the image payload do not
// exist yet: the floor is the layout's with the smallest OS slots and no
// PAYLOAD partition; a larger OS image needs larger slots and a payload its
// own partition, which the build checks as soon as they are made.
func checkRawSize(v *validator, r *RawOutput) {
	if r == nil || r.Size == 0 || r.Size%sectorSize != 0 {
		return // 0 is the smallest that fits; outputs.go reports a partial sector
	}
	const field = "outputs.raw.size"
	min, err := diskimage.MinSize(0, 0)
	if err != nil {
		v.errorf(field, "the disk layout: %v", err)
		return
	}
	floor := Size(min)
	switch {
	case r.Size < floor:
		v.errorf(field, "%s is too small: the disk layout needs at least %s (ESP, two OS slots, SECRETS, STATE), more for an OS image over %s and for the image payload (its own partition); 0 makes the smallest image that fits",
			r.Size, floor, Size(diskimage.MinDefaultOSSlotSize/2))
	case r.Size > MaxRawSize:
		v.errorf(field, "%s is larger than %s, the most a raw image may be (STATE grows to fill the real disk at first boot, so the image need not be the disk's size)",
			r.Size, Size(MaxRawSize))
	}
}
