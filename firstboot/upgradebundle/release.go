package upgradebundle

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MarshalRelease checks r and returns it as the OS image's release.json
// (ReleasePath): indented JSON with a trailing newline.
func MarshalRelease(r Release) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return append(data, '\n'), nil
}

// ParseRelease reads what MarshalRelease wrote: at most MaxReleaseSize
// bytes, no unknown field, every field checked.
func ParseRelease(data []byte) (Release, error) {
	if len(data) > MaxReleaseSize {
		return Release{}, fmt.Errorf("release: %d bytes, more than %d", len(data), MaxReleaseSize)
	}
	var r Release
	if err := decodeStrict(data, &r); err != nil {
		return Release{}, fmt.Errorf("release: %w", err)
	}
	if err := r.Check(); err != nil {
		return Release{}, err
	}
	return r, nil
}

// decodeStrict decodes one JSON value from data into v, refusing fields v
// does not have.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
