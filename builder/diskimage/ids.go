package diskimage

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"github.com/google/uuid"
)

// Purposes of the identifiers derived from Options.Seed. Changing one
// changes every image built after, so they are fixed strings.
const (
	idDisk      = "gpt-disk"
	idPartition = "gpt-partition-" // + label
	idFATVolume = "fat-volume-id"
	idExt4UUID  = "ext4-uuid"
	idExt4Hash  = "ext4-hash-seed"
)

// derivedUUID is a name-based UUID (RFC 9562 version 8, "custom") made from
// sha256(seed NUL purpose): the same seed and purpose give the same UUID,
// different purposes give unrelated ones.
func derivedUUID(seed, purpose string) uuid.UUID {
	sum := sha256.Sum256([]byte(seed + "\x00" + purpose))
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u
}

// derivedUint32 is a 32-bit value derived like derivedUUID, for the FAT
// volume serial number.
func derivedUint32(seed, purpose string) uint32 {
	sum := sha256.Sum256([]byte(seed + "\x00" + purpose))
	return binary.LittleEndian.Uint32(sum[:4])
}

// guidString is a GUID as sgdisk prints it: upper case.
func guidString(u uuid.UUID) string {
	return strings.ToUpper(u.String())
}
