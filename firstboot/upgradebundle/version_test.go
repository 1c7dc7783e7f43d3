package upgradebundle

import (
	"strings"
	"testing"
)

func TestCheckVersion(t *testing.T) {
	for _, v := range []string{
		DefaultVersion, "1.4.0", "10.20.30", "2.0.0-rc.1", "1.0.0-alpha", "1.0.0-alpha.beta",
		"1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0--1", "999999999.0.0",
	} {
		if err := CheckVersion(v); err != nil {
			t.Errorf("CheckVersion(%q): %v", v, err)
		}
	}
	for _, tc := range []struct{ v, want string }{
		{"", "want MAJOR.MINOR.PATCH"},
		{"1.4", "want MAJOR.MINOR.PATCH"},
		{"v1.4.0", "want MAJOR.MINOR.PATCH"},
		{"1.4.0.1", "want MAJOR.MINOR.PATCH"},
		{"01.4.0", "want MAJOR.MINOR.PATCH"},
		{"1.04.0", "want MAJOR.MINOR.PATCH"},
		{"1.4.00", "want MAJOR.MINOR.PATCH"},
		{"1.0.0+build.1", "want MAJOR.MINOR.PATCH"}, // build metadata orders nothing
		{"1.0.0-", "want MAJOR.MINOR.PATCH"},
		{"1.0.0-rc..1", "want MAJOR.MINOR.PATCH"},
		{"1.0.0-rc_1", "want MAJOR.MINOR.PATCH"},
		{"1.0.0-rc.1 ", "want MAJOR.MINOR.PATCH"},
		{"1.0.0\n", "want MAJOR.MINOR.PATCH"},
		{"1.0.0-rc;reboot", "want MAJOR.MINOR.PATCH"},
		{"1000000000.0.0", "want MAJOR.MINOR.PATCH"},
		{"1.0.0-" + strings.Repeat("a", 33), "want MAJOR.MINOR.PATCH"},
		{"1.0.0-a.b.c.d.e.f.g.h.i", "want MAJOR.MINOR.PATCH"},
		{"1.0.0-rc.01", `pre-release identifier "01" has a leading zero`},
		{"1.0.0-00", `pre-release identifier "00" has a leading zero`},
	} {
		err := CheckVersion(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckVersion(%q) = %v, want an error containing %q", tc.v, err, tc.want)
		}
	}
}

// TestComparePrecedence checks Compare against Semantic Versioning
// 2.0.0's precedence (semver.org item 11): every version of the list is
// older than every later one, and equal to itself.
func TestComparePrecedence(t *testing.T) {
	ordered := []string{
		"0.0.0",
		"0.0.1",
		"0.9.0",
		"0.10.0",
		// The spec's own example chain (item 11.4).
		"1.0.0-0",
		"1.0.0-1",
		"1.0.0-2",
		"1.0.0-10",
		"1.0.0-99999999999999999999999999999999", // past int64: no overflow
		"1.0.0--1",                               // alphanumeric (a hyphen), above every number
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.9.0",
		"1.10.0",
		"1.11.0",
		"2.0.0-rc.1",
		"2.0.0",
		"2.1.0",
		"2.1.1",
		"10.0.0",
	}
	for _, v := range ordered {
		if err := CheckVersion(v); err != nil {
			t.Fatalf("the table's %q is not valid: %v", v, err)
		}
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestCompareCaseSensitiveAlphanumerics(t *testing.T) {
	// ASCII order: upper case before lower case.
	if got := Compare("1.0.0-RC.1", "1.0.0-rc.1"); got != -1 {
		t.Errorf("Compare(1.0.0-RC.1, 1.0.0-rc.1) = %d, want -1 (ASCII order)", got)
	}
}
