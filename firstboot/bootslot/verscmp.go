package bootslot

import "strings"

// VersionCompare is systemd's strverscmp_improved (src/fundamental/
// string-util-fundamental.c, v252, 84-229), by which systemd-boot orders
// entry versions and ids: -1 when a is older than b, 0 when they are the
// same version, +1 when a is newer. Strings are split into numeric and
// alphabetic segments; '~' marks an older pre-release, '-' a release
// after the version, '^' a patched release and '.' a point release; any
// other byte separates segments. Like the C strings it compares, a string
// ends at a NUL byte.
func VersionCompare(a, b string) int {
	i, j := 0, 0
	for {
		for i < len(a) && !versionByte(a[i]) && a[i] != 0 {
			i++
		}
		for j < len(b) && !versionByte(b[j]) && b[j] != 0 {
			j++
		}
		ca, cb := byteAt(a, i), byteAt(b, j)
		if ca == '~' || cb == '~' {
			if r := cmpBool(ca != '~', cb != '~'); r != 0 {
				return r
			}
			i, j = i+1, j+1
		}
		ca, cb = byteAt(a, i), byteAt(b, j)
		if ca == 0 || cb == 0 {
			return cmpInt(int(ca), int(cb))
		}
		for _, sep := range []byte{'-', '^', '.'} {
			ca, cb = byteAt(a, i), byteAt(b, j)
			if ca == sep || cb == sep {
				if r := cmpBool(ca != sep, cb != sep); r != 0 {
					return r
				}
				i, j = i+1, j+1
			}
		}
		ca, cb = byteAt(a, i), byteAt(b, j)
		var ie, je int
		if isDigit(ca) || isDigit(cb) {
			ie, je = span(a, i, isDigit), span(b, j, isDigit)
			if r := cmpBool(ie != i, je != j); r != 0 {
				return r
			}
			for i < ie && a[i] == '0' {
				i++
			}
			for j < je && b[j] == '0' {
				j++
			}
			if r := cmpInt(ie-i, je-j); r != 0 {
				return r
			}
			if r := strings.Compare(a[i:ie], b[j:je]); r != 0 {
				return r
			}
		} else {
			ie, je = span(a, i, isAlpha), span(b, j, isAlpha)
			n := min(ie-i, je-j)
			if r := strings.Compare(a[i:i+n], b[j:j+n]); r != 0 {
				return r
			}
			if r := cmpInt(ie-i, je-j); r != 0 {
				return r
			}
		}
		i, j = ie, je
	}
}

// byteAt is s[i], or 0 past the end (the C string's NUL).
func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// span returns the end of the run of bytes from i that keep to is.
func span(s string, i int, is func(byte) bool) int {
	for i < len(s) && is(s[i]) {
		i++
	}
	return i
}

// versionByte is is_valid_version_char.
func versionByte(c byte) bool {
	return isDigit(c) || isAlpha(c) || c == '~' || c == '-' || c == '^' || c == '.'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
