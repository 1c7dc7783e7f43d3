package site

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"512", 512},
		{"512B", 512},
		{"16GiB", 16 << 30},
		{"16 GiB", 16 << 30},
		{"16G", 16 << 30},
		{"16GB", 16_000_000_000},
		{"3K", 3 << 10},
		{"3KiB", 3 << 10},
		{"3KB", 3000},
		{"2M", 2 << 20},
		{"2MB", 2_000_000},
		{"1T", 1 << 40},
		{"1TiB", 1 << 40},
		{"1TB", 1_000_000_000_000},
		{"8388607TiB", 8388607 << 40},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	const forms = `want bytes as an integer or a string like "16GiB" (units B, K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB powers of 1000)`
	for _, tc := range []struct{ in, want string }{
		{"", `invalid size "": ` + forms},
		{"GiB", `invalid size "GiB": ` + forms},
		{"1.5GiB", `invalid size "1.5GiB": ` + forms},
		{"-1G", `invalid size "-1G": ` + forms},
		{"16  GiB", `invalid size "16  GiB": ` + forms},
		{"16gib", `invalid size "16gib": unknown unit "gib": ` + forms},
		{"16Gb", `invalid size "16Gb": unknown unit "Gb": ` + forms},
		{"16PiB", `invalid size "16PiB": unknown unit "PiB": ` + forms},
		{"8388608TiB", `invalid size "8388608TiB": too large`},
		{"99999999999999999999", `invalid size "99999999999999999999": too large`},
	} {
		_, err := ParseSize(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseSize(%q) error = %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestSizeInConfig(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  Size
		err   string
	}{
		{value: "17179869184", want: 16 << 30},
		{value: "16GiB", want: 16 << 30},
		{value: `"8 GiB"`, want: 8 << 30},
		{value: "0", want: 0},
		{value: "", want: 0},
		{value: "-512", err: "site.yaml:13: outputs.raw.size: invalid size -512: negative"},
		{value: "1.5", err: `site.yaml:13: outputs.raw.size: expected a size, got number 1.5: want bytes as an integer or a string like "16GiB" (units B, K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB powers of 1000)`},
		{value: "16 gigs", err: `site.yaml:13: outputs.raw.size: invalid size "16 gigs": unknown unit "gigs": want bytes as an integer or a string like "16GiB" (units B, K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB powers of 1000)`},
		{value: "99999999999999999999", err: "site.yaml:13: outputs.raw.size: expected a size, got number 99999999999999999999: " +
			`want bytes as an integer or a string like "16GiB" (units B, K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB powers of 1000)`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			s := checkLoad(t, valid+"outputs:\n  raw:\n    size: "+tc.value+"\n", tc.err, nil)
			if s != nil && s.Outputs.Raw.Size != tc.want {
				t.Errorf("size = %d, want %d", s.Outputs.Raw.Size, tc.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   Size
		want string
	}{{0, "0B"}, {512, "512B"}, {16 << 30, "16GiB"}, {1536 << 20, "1536MiB"}, {1 << 40, "1TiB"}, {16_000_000_000, "15625000KiB"}} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", uint64(tc.in), got, tc.want)
		}
	}
}
