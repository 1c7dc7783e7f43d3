package bootslot

import "testing"

// TestVersionCompareAsSystemd runs the cases of systemd's own test of
// strverscmp_improved (src/test/test-string-util.c, v252, 833-945).
func TestVersionCompareAsSystemd(t *testing.T) {
	versions := []string{"~1", "", "ab", "abb", "abc", "0001", "002", "12", "122", "122.9",
		"123~rc1", "123", "123-a", "123-a.1", "123-a1", "123-a1.1", "123-3", "123-3.1",
		"123^patch1", "123^1", "123.a-1", "123.1-1", "123a-1", "124"}
	newer := func(older, newer string) {
		t.Helper()
		for _, c := range []struct {
			a, b string
			want int
		}{{older, newer, -1}, {newer, older, 1}, {older, older, 0}, {newer, newer, 0}} {
			if got := VersionCompare(c.a, c.b); got != c.want {
				t.Errorf("VersionCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
			}
		}
	}
	for i, a := range versions {
		for _, b := range versions[i+1:] {
			newer(a, b)
		}
	}
	for _, p := range [][2]string{
		{"123.45-67.88", "123.45-67.89"}, {"123.45-67.89", "123.45-67.89a"}, {"123.45-67.ab", "123.45-67.89"},
		{"123.45-67.9", "123.45-67.89"}, {"123.45-67", "123.45-67.89"}, {"123.45-66.89", "123.45-67.89"},
		{"123.45-9.99", "123.45-67.89"}, {"123.42-99.99", "123.45-67.89"}, {"123-99.99", "123.45-67.89"},
		{"123~rc1-99.99", "123.45-67.89"}, {"123~rc1-99.99", "123-45.67.89"}, {"123~rc1-99.99", "123~rc2-67.89"},
		{"123~rc1-99.99", "123^aa2-67.89"}, {"123~rc1-99.99", "123aa2-67.89"},
		{"123-99.99", "123.45-67.89"}, {"123-99.99", "123^aa2-67.89"}, {"123-99.99", "123aa2-67.89"},
		{"123^45-67.89", "123.45-67.89"}, {"123^aa1-99.99", "123^aa2-67.89"}, {"123^aa2-67.89", "123aa2-67.89"},
		{"123.aa2-67.89", "123aa2-67.89"}, {"123.aa2-67.89", "123.ab2-67.89"},
		// Ours: generations compare as numbers, and a file name's counter
		// ('+' is a separator) as a further segment.
		{"9", "10"}, {"appliance-a.conf", "appliance-b.conf"}, {"appliance-a.conf", "appliance-a+3.conf"},
	} {
		newer(p[0], p[1])
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"123_aa2-67.89", "123aa+2-67.89", 0},
		{"123.", "123", 1}, {"12_3", "123", -1}, {"12_3", "12", 1}, {"12_3", "12.3", 1},
		{"123.0", "123", 1}, {"123_0", "123", 1}, {"123..0", "123.0", -1},
		{"0_", "0", 0}, {"_0_", "0", 0}, {"_0", "0", 0}, {"0", "0___", 0},
		{"", "_", 0}, {"_", "", 0}, {"_", "_", 0}, {"", "~", 1}, {"~", "", -1}, {"~", "~", 0},
		{"1\u0660\u0661", "1", 0}, // non-ASCII digits are separators
		{"12\x003", "12", 0},      // a C string ends at NUL
	} {
		if got := VersionCompare(c.a, c.b); got != c.want {
			t.Errorf("VersionCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
