package progress

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// snapshot is a task's counters at one moment.
type snapshot struct {
	name              string
	items, itemsTotal int64
	bytes, bytesTotal int64
	elapsed           time.Duration
}

// counts returns the items and bytes done, each as "done/total" or "done"
// when the total is unknown, left out when neither is known.
func (s snapshot) counts() []slog.Attr {
	var attrs []slog.Attr
	if s.items > 0 || s.itemsTotal > 0 {
		v := strconv.FormatInt(s.items, 10)
		if s.itemsTotal > 0 {
			v += "/" + strconv.FormatInt(s.itemsTotal, 10)
		}
		attrs = append(attrs, slog.String("items", v))
	}
	if s.countsBytes() {
		v := formatBytes(float64(s.bytes))
		if s.bytesTotal > 0 {
			v += "/" + formatBytes(float64(s.bytesTotal))
		}
		attrs = append(attrs, slog.String("bytes", v))
	}
	return attrs
}

func (s snapshot) countsBytes() bool { return s.bytes > 0 || s.bytesTotal > 0 }

// withRate returns the counts and, when bytes are counted and the rate is
// known, the rate in bytes per second.
func (s snapshot) withRate(bytesPerSec float64, known bool) []slog.Attr {
	attrs := s.counts()
	if s.countsBytes() && known {
		attrs = append(attrs, slog.String("rate", formatRate(bytesPerSec)))
	}
	return attrs
}

// running returns the counts of a running task, its rate and, when the
// byte total is known, the time left at that rate.
func (s snapshot) running(bytesPerSec float64, known bool) []slog.Attr {
	attrs := s.withRate(bytesPerSec, known)
	if left := s.bytesTotal - s.bytes; known && left > 0 && bytesPerSec > 0 {
		eta := time.Duration(float64(left) / bytesPerSec * float64(time.Second))
		attrs = append(attrs, slog.String("eta", formatElapsed(eta)))
	}
	return attrs
}

// ended returns the counts of an ended task and its mean rate. A total
// reached is not repeated: "12 items", but "2/12 items".
func (s snapshot) ended() []slog.Attr {
	if s.items == s.itemsTotal {
		s.itemsTotal = 0
	}
	if s.bytes == s.bytesTotal {
		s.bytesTotal = 0
	}
	if s.elapsed <= 0 {
		return s.withRate(0, false)
	}
	return s.withRate(float64(s.bytes)/s.elapsed.Seconds(), true)
}

// statusLine is a running task's line on a terminal:
// "pull images  3/12 items  300.0 MiB/1.5 GiB  25.0 MiB/s  ETA 49.4s".
func statusLine(s snapshot, bytesPerSec float64, known bool) string {
	parts := []string{s.name}
	for _, a := range s.running(bytesPerSec, known) {
		switch a.Key {
		case "items":
			parts = append(parts, a.Value.String()+" items")
		case "eta":
			parts = append(parts, "ETA "+a.Value.String())
		default:
			parts = append(parts, a.Value.String())
		}
	}
	return strings.Join(parts, "  ")
}

// finalLine is an ended task's line on a terminal:
// "pull images: done in 1m0s, 12 items, 1.5 GiB, 25.6 MiB/s" or
// "pull images: FAILED after 3s, 2/12 items, 10.0 MiB, 3.3 MiB/s: <err>".
func finalLine(s snapshot, err error) string {
	var b strings.Builder
	if err == nil {
		fmt.Fprintf(&b, "%s: done in %s", s.name, formatElapsed(s.elapsed))
	} else {
		fmt.Fprintf(&b, "%s: FAILED after %s", s.name, formatElapsed(s.elapsed))
	}
	for _, a := range s.ended() {
		b.WriteString(", " + a.Value.String())
		if a.Key == "items" {
			b.WriteString(" items")
		}
	}
	if err != nil {
		b.WriteString(": " + err.Error())
	}
	return b.String()
}

// formatBytes writes n in base-1024 units with one decimal: "512 B",
// "1.5 KiB", "300.0 MiB", "1.2 GiB".
func formatBytes(n float64) string {
	if n < 1024 {
		return strconv.FormatFloat(n, 'f', 0, 64) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	n /= 1024
	i := 0
	for n >= 1023.95 && i < len(units)-1 { // 1023.95 would print as 1024.0
		n /= 1024
		i++
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + " " + units[i]
}

// formatRate writes bytes per second: "25.0 MiB/s".
func formatRate(bytesPerSec float64) string {
	return formatBytes(max(bytesPerSec, 0)) + "/s"
}

// formatElapsed rounds d to tenths of a second below a minute, to seconds
// above: "4.2s", "3m7s".
func formatElapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
