package progress

import (
	"errors"
	"testing"
	"time"
)

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    float64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{1048514, "1023.9 KiB"},
		{MiB - 1, "1.0 MiB"}, // not "1024.0 KiB"
		{10*MiB + MiB/2, "10.5 MiB"},
		{1.5 * GiB, "1.5 GiB"},
		{3 << 40, "3.0 TiB"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFormatElapsed(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{4240 * time.Millisecond, "4.2s"},
		{59960 * time.Millisecond, "1m0s"},
		{187400 * time.Millisecond, "3m7s"},
		{90 * time.Minute, "1h30m0s"},
	} {
		if got := formatElapsed(tc.d); got != tc.want {
			t.Errorf("formatElapsed(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestStatusLine(t *testing.T) {
	for _, tc := range []struct {
		s     snapshot
		rate  float64
		known bool
		want  string
	}{
		{snapshot{name: "pull images", items: 3, itemsTotal: 12, bytes: 300 * MiB, bytesTotal: 1.5 * GiB}, 25 * MiB, true,
			"pull images  3/12 items  300.0 MiB/1.5 GiB  25.0 MiB/s  ETA 49.4s"},
		{snapshot{name: "fetch k3s", bytes: 5 * MiB}, MiB, true, "fetch k3s  5.0 MiB  1.0 MiB/s"},
		{snapshot{name: "fetch k3s", bytesTotal: 80 * MiB}, 0, false, "fetch k3s  0 B/80.0 MiB"},
		{snapshot{name: "stalled", bytes: 10 * MiB, bytesTotal: 20 * MiB}, 0, true, "stalled  10.0 MiB/20.0 MiB  0 B/s"},
		{snapshot{name: "render charts", items: 2, itemsTotal: 5}, 0, true, "render charts  2/5 items"},
		{snapshot{name: "wait"}, 0, true, "wait"},
	} {
		if got := statusLine(tc.s, tc.rate, tc.known); got != tc.want {
			t.Errorf("statusLine(%+v, %v, %v) =\n%q, want\n%q", tc.s, tc.rate, tc.known, got, tc.want)
		}
	}
}

func TestFinalLine(t *testing.T) {
	for _, tc := range []struct {
		s    snapshot
		err  error
		want string
	}{
		{snapshot{name: "pull images", items: 12, itemsTotal: 12, bytes: 1.5 * GiB, bytesTotal: 1.5 * GiB, elapsed: time.Minute}, nil,
			"pull images: done in 1m0s, 12 items, 1.5 GiB, 25.6 MiB/s"},
		{snapshot{name: "pull images", items: 2, itemsTotal: 12, bytes: 10 * MiB, elapsed: 3 * time.Second}, errors.New("connection refused"),
			"pull images: FAILED after 3s, 2/12 items, 10.0 MiB, 3.3 MiB/s: connection refused"},
		{snapshot{name: "write archive", bytes: 40 * MiB, bytesTotal: 50 * MiB, elapsed: 4 * time.Second}, errors.New("disk full"),
			"write archive: FAILED after 4s, 40.0 MiB/50.0 MiB, 10.0 MiB/s: disk full"},
		{snapshot{name: "instant"}, nil, "instant: done in 0s"},
	} {
		if got := finalLine(tc.s, tc.err); got != tc.want {
			t.Errorf("finalLine(%+v, %v) =\n%q, want\n%q", tc.s, tc.err, got, tc.want)
		}
	}
}
