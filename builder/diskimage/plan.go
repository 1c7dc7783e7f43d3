package diskimage

import (
	"fmt"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// MiB is the partition alignment and the unit of every partition size.
const MiB = int64(1) << 20

// Defaults and floors of the partition sizes (all multiples of MiB).
const (
	// DefaultESPSize is the ESP's size when Options.ESPSize is 0.
	DefaultESPSize = 256 * MiB
	// ESPSizeFloor is the smallest ESP: FAT32 needs at least 65525 clusters.
	ESPSizeFloor = 64 * MiB
	// MinDefaultOSSlotSize is the floor of the default OS slot size. The
	// default is twice the OS image, rounded up to MiB, and at least this,
	// so that an upgrade may bring a larger image into the other slot.
	MinDefaultOSSlotSize = 1024 * MiB
	// DefaultMinStateSize is STATE's size in a disk of the smallest size;
	// the node grows STATE to fill its disk at first boot.
	DefaultMinStateSize = 512 * MiB
	// StateSizeFloor is the smallest value Options.MinStateSize may take.
	StateSizeFloor = 64 * MiB
	// SecretsSize is the SECRETS partition's size: the most a secrets
	// volume takes (firstboot/clustersecrets.MaxVolume).
	SecretsSize = MiB
)

const (
	sectorSize = 512
	// gptTail is what the backup GPT takes at the end of the disk: a
	// 128-entry array (32 sectors) and its header.
	gptTail = 33 * sectorSize
	// overhead is the space outside partitions in a disk of the smallest
	// size: the first MiB (protective MBR, primary GPT, alignment) and a
	// last MiB that holds the backup GPT.
	overhead = 2 * MiB
)

// GPT partition type GUIDs.
const (
	TypeEFISystem       = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	TypeLinuxFilesystem = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	// TypePayload marks the PAYLOAD partition: raw bytes of an uncompressed
	// OCI image layout tar, no filesystem (firstboot/payload). It is this
	// project's own GUID (a random version 4 UUID, chosen once): no
	// registry of type GUIDs has one for "a tar in place", and a Linux
	// filesystem type would invite blkid, udisks or a firmware to look for
	// a filesystem in it. Nothing but firstboot reads it, by its label.
	TypePayload = "DCAE7997-905F-48A9-9313-A4EA41728FE9"
)

// AttrReadOnly (GPT attribute bit 60) marks PAYLOAD as not to be written.
// The Linux kernel does not enforce it (efi_partition in
// block/partitions/efi.c makes no partition read-only from it); it tells
// people and tools (sgdisk -A, systemd's image dissection) what PAYLOAD
// is, and the node opens PAYLOAD read-only anyway.
const AttrReadOnly = bootparam.GPTReadOnly

// sizes are the resolved sizes of one disk, in bytes. payload is 0 when
// the disk has no PAYLOAD partition.
type sizes struct {
	disk, esp, osSlot, secrets, payload, state int64
}

// planSizes applies the defaults to opts and checks that the partitions fit
// in the disk. imageSize is the OS image's size in bytes, payloadSize the
// image payload's (0: none).
func planSizes(opts Options, imageSize, payloadSize int64) (sizes, error) {
	s := sizes{esp: opts.ESPSize, osSlot: opts.OSSlotSize, secrets: SecretsSize, payload: alignUp(payloadSize, MiB)}
	if s.esp == 0 {
		s.esp = DefaultESPSize
	}
	if s.osSlot == 0 {
		s.osSlot = max(alignUp(2*imageSize, MiB), MinDefaultOSSlotSize)
	}
	minState := opts.MinStateSize
	if minState == 0 {
		minState = DefaultMinStateSize
	}
	for _, c := range []struct {
		name       string
		value, min int64
	}{
		{"ESPSize", s.esp, ESPSizeFloor},
		{"OSSlotSize", s.osSlot, MiB},
		{"MinStateSize", minState, StateSizeFloor},
	} {
		if c.value%MiB != 0 {
			return sizes{}, fmt.Errorf("%s %d is not a multiple of 1 MiB", c.name, c.value)
		}
		if c.value < c.min {
			return sizes{}, fmt.Errorf("%s %d MiB is below the minimum of %d MiB", c.name, c.value/MiB, c.min/MiB)
		}
	}
	if imageSize > s.osSlot {
		return sizes{}, fmt.Errorf("OS image of %d bytes does not fit in an OS slot of %d MiB", imageSize, s.osSlot/MiB)
	}

	needed := overhead + s.esp + 2*s.osSlot + s.secrets + s.payload + minState
	s.disk = opts.Size
	if s.disk == 0 {
		s.disk = needed
	}
	if s.disk%sectorSize != 0 {
		return sizes{}, fmt.Errorf("disk size %d is not a multiple of the %d-byte sector", s.disk, sectorSize)
	}
	if s.disk < needed {
		payload := ""
		if s.payload > 0 {
			payload = fmt.Sprintf(", %s %d MiB (the image payload of %d bytes)", bootparam.LabelPayload, s.payload/MiB, payloadSize)
		}
		return sizes{}, fmt.Errorf("disk size %d bytes is too small: the layout needs at least %d bytes (%d MiB: "+
			"ESP %d MiB, %s and %s %d MiB each, %s %d MiB%s, %s at least %d MiB, 2 MiB for the GPT)",
			s.disk, needed, needed/MiB, s.esp/MiB, bootparam.LabelOSA, bootparam.LabelOSB, s.osSlot/MiB,
			bootparam.LabelSecrets, s.secrets/MiB, payload, bootparam.LabelState, minState/MiB)
	}
	stateStart := MiB + s.esp + 2*s.osSlot + s.secrets + s.payload
	// STATE takes the rest, up to the last MiB boundary before the backup GPT.
	s.state = alignDown(s.disk-gptTail, MiB) - stateStart
	return s, nil
}

// partitionPlan is one partition before GUIDs are given.
type partitionPlan struct {
	label, typeGUID, filesystem string
	attributes                  bootparam.GPTAttributes
	start, size                 int64
}

// partitions lays out the partitions, in order, 1 MiB aligned: PAYLOAD
// only with a payload, STATE always last (the node grows it).
func (s sizes) partitions() []partitionPlan {
	parts := []partitionPlan{
		{label: bootparam.LabelESP, typeGUID: TypeEFISystem, filesystem: FilesystemFAT32, size: s.esp},
		{label: bootparam.LabelOSA, typeGUID: TypeLinuxFilesystem, filesystem: FilesystemSquashfs, size: s.osSlot},
		{label: bootparam.LabelOSB, typeGUID: TypeLinuxFilesystem, size: s.osSlot},
		{label: bootparam.LabelSecrets, typeGUID: TypeLinuxFilesystem, size: s.secrets},
	}
	if s.payload > 0 {
		parts = append(parts, partitionPlan{label: bootparam.LabelPayload, typeGUID: TypePayload, attributes: AttrReadOnly, size: s.payload})
	}
	parts = append(parts, partitionPlan{label: bootparam.LabelState, typeGUID: TypeLinuxFilesystem, filesystem: FilesystemExt4, size: s.state})
	next := MiB
	for i := range parts {
		parts[i].start = next
		next += parts[i].size
	}
	return parts
}

func alignUp(n, a int64) int64   { return (n + a - 1) / a * a }
func alignDown(n, a int64) int64 { return n / a * a }
