package bootparam

import (
	"fmt"
	"strconv"
	"strings"
)

// GPTAttributes are a GPT partition entry's 64 attribute bits. In JSON
// (the install layout, the build report) they are a string of 16 hex
// digits after "0x", as sgdisk prints them: a number past 2^53 does not
// survive a reader that takes JSON numbers for doubles (jq, JavaScript).
type GPTAttributes uint64

// GPTReadOnly is attribute bit 60, "read-only" (UEFI 2.10 table 5.8
// leaves bits 48-63 to the partition type; the Discoverable Partitions
// Specification gives 60 this meaning): PAYLOAD has it.
const GPTReadOnly GPTAttributes = 1 << 60

// MarshalText implements encoding.TextMarshaler.
func (a GPTAttributes) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "0x%016x", uint64(a)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: "0x" and 1 to 16
// hex digits.
func (a *GPTAttributes) UnmarshalText(b []byte) error {
	s := string(b)
	digits, ok := strings.CutPrefix(s, "0x")
	if !ok || len(digits) == 0 || len(digits) > 16 {
		return fmt.Errorf("GPT attributes %q: want 0x and 1 to 16 hex digits", s)
	}
	v, err := strconv.ParseUint(digits, 16, 64)
	if err != nil {
		return fmt.Errorf("GPT attributes %q: want 0x and 1 to 16 hex digits", s)
	}
	*a = GPTAttributes(v)
	return nil
}
