package upgradebundle

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
)

// DefaultVersion is the release version of a site that sets none.
const DefaultVersion = "0.0.0"

// version is a Semantic Versioning 2.0.0 version without build metadata:
// MAJOR.MINOR.PATCH and an optional -PRERELEASE of dot-separated
// identifiers.
var version = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(?:-([0-9A-Za-z-]{1,32}(?:\.[0-9A-Za-z-]{1,32}){0,7}))?$`)

// CheckVersion checks a release version's grammar. As Semantic
// Versioning 2.0.0 (semver.org, item 9) says, a numeric pre-release
// identifier has no leading zero: "1.0.0-rc.01" is refused, since it and
// "1.0.0-rc.1" would be two spellings of one precedence.
func CheckVersion(v string) error {
	m := version.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("version %q: want MAJOR.MINOR.PATCH with an optional -PRERELEASE (Semantic Versioning), e.g. 1.4.0 or 2.0.0-rc.1", v)
	}
	if m[4] == "" {
		return nil
	}
	for _, id := range strings.Split(m[4], ".") {
		if numeric(id) && len(id) > 1 && id[0] == '0' {
			return fmt.Errorf("version %q: pre-release identifier %q has a leading zero (Semantic Versioning)", v, id)
		}
	}
	return nil
}

// Compare orders two valid versions by Semantic Versioning precedence:
// -1 if a is older than b, 0 if equal, +1 if newer.
func Compare(a, b string) int {
	ma, mb := version.FindStringSubmatch(a), version.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		return strings.Compare(a, b)
	}
	for i := 1; i <= 3; i++ {
		if c := compareDigits(ma[i], mb[i]); c != 0 {
			return c
		}
	}
	switch pa, pb := ma[4], mb[4]; {
	case pa == pb:
		return 0
	case pa == "":
		return 1 // a release is newer than its pre-releases
	case pb == "":
		return -1
	default:
		return comparePrerelease(strings.Split(pa, "."), strings.Split(pb, "."))
	}
}

// comparePrerelease compares dot-separated pre-release identifiers as
// Semantic Versioning 2.0.0 item 11.4 says: numeric ones numerically,
// alphanumeric ones in ASCII order, a numeric one below an alphanumeric
// one, and a longer list above its prefix.
func comparePrerelease(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		numA, numB := numeric(a[i]), numeric(b[i])
		switch {
		case numA && numB:
			if c := compareDigits(a[i], b[i]); c != 0 {
				return c
			}
		case numA:
			return -1 // numeric identifiers have lower precedence
		case numB:
			return 1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}

// numeric reports whether a pre-release identifier is all digits (a
// hyphen makes it alphanumeric: "-1" is not the number -1).
func numeric(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return id != ""
}

// compareDigits compares two numbers written without leading zeros (as
// the grammar has them) of any length: the longer is the larger, else
// the digits decide. Nothing overflows.
func compareDigits(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
