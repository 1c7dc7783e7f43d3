package clustersecrets

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// forge writes files after a copy of header with the length and digest
// fixed up: a well-formed volume whose names were never checked.
func forge(header []byte, files map[string][]byte) ([]byte, error) {
	payload, err := json.Marshal(files)
	if err != nil {
		return nil, err
	}
	return forgeRaw(header, payload), nil
}

// forgeRaw is forge with the payload's bytes given.
func forgeRaw(header, payload []byte) []byte {
	out := append([]byte{}, header...)
	binary.BigEndian.PutUint64(out[16:24], uint64(len(payload)))
	sum := sha256.Sum256(payload)
	copy(out[24:56], sum[:])
	return append(out, payload...)
}

func mustForgeRaw(t *testing.T, header, payload []byte) []byte {
	t.Helper()
	return forgeRaw(header, payload)
}
