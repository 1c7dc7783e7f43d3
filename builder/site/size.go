package site

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Size is a number of bytes. In the config it is an integer (bytes) or a
// string: a whole number with an optional unit, optionally separated by a
// space. KiB, MiB, GiB, TiB and K, M, G, T are powers of 1024; KB, MB, GB, TB
// are powers of 1000; B or no unit is bytes.
type Size uint64

var sizeUnits = map[string]uint64{
	"": 1, "B": 1,
	"K": 1 << 10, "KiB": 1 << 10, "KB": 1e3,
	"M": 1 << 20, "MiB": 1 << 20, "MB": 1e6,
	"G": 1 << 30, "GiB": 1 << 30, "GB": 1e9,
	"T": 1 << 40, "TiB": 1 << 40, "TB": 1e12,
}

var sizePattern = regexp.MustCompile(`^([0-9]+) ?([A-Za-z]*)$`)

// errSizeSyntax explains the accepted forms.
var errSizeSyntax = errors.New(`want bytes as an integer or a string like "16GiB" (units B, K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB powers of 1000)`)

// ParseSize parses a size string such as "16GiB", "512M" or "1000000".
func ParseSize(s string) (Size, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, errSizeSyntax)
	}
	unit, ok := sizeUnits[m[2]]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q: %w", s, m[2], errSizeSyntax)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	hi, lo := bits.Mul64(n, unit)
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(lo), nil
}

// decodeNode accepts an integer or a size string; null leaves the size unset.
func (z *Size) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a size, got %s: %w", describe(n), errSizeSyntax)
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return fmt.Errorf("invalid size %s: too large", n.Value)
		}
		if i < 0 {
			return fmt.Errorf("invalid size %s: negative", n.Value)
		}
		*z = Size(i)
		return nil
	case "!!str":
		s, err := ParseSize(n.Value)
		if err != nil {
			return err
		}
		*z = s
		return nil
	default:
		return fmt.Errorf("expected a size, got %s: %w", describe(n), errSizeSyntax)
	}
}

// String renders the size in the largest binary unit that divides it exactly.
func (z Size) String() string {
	for _, u := range []struct {
		name string
		n    uint64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if z != 0 && uint64(z)%u.n == 0 {
			return strconv.FormatUint(uint64(z)/u.n, 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(z), 10) + "B"
}
