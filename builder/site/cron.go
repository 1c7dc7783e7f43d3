package site

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronField is one field of a standard cron spec.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = []cronField{
	{name: "minute", max: 59},
	{name: "hour", max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkCron says what is wrong with a cron spec in the syntax K3s schedules
// etcd snapshots with (robfig/cron's standard parser: five fields, names
// for months and weekdays, descriptors, an optional CRON_TZ= or TZ=
// prefix), or "" when nothing is. K3s ignores a spec it cannot parse and
// then takes no snapshot at all, so the build checks it.
func checkCron(spec string) string {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		zone, rest, _ := strings.Cut(spec, " ")
		if strings.TrimLeft(zone[strings.Index(zone, "=")+1:], " ") == "" {
			return "time zone prefix without a zone"
		}
		spec = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(spec, "@") {
		if d, ok := strings.CutPrefix(spec, "@every "); ok {
			if dur, err := time.ParseDuration(strings.TrimSpace(d)); err != nil || dur <= 0 {
				return "@every wants a positive duration like 4h or 30m"
			}
			return ""
		}
		for _, known := range cronDescriptors {
			if spec == known {
				return ""
			}
		}
		return "unknown descriptor (want " + strings.Join(cronDescriptors, ", ") + " or @every DURATION)"
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return fmt.Sprintf("%d fields; want 5: minute hour day-of-month month day-of-week", len(fields))
	}
	for i, f := range fields {
		for _, part := range strings.Split(f, ",") {
			if problem := cronFields[i].check(part); problem != "" {
				return cronFields[i].name + " " + strconv.Quote(part) + ": " + problem
			}
		}
	}
	return ""
}

// check validates one comma-separated part: *, ?, N or N-M, each
// optionally followed by /STEP.
func (f cronField) check(part string) string {
	rangePart, step, hasStep := strings.Cut(part, "/")
	if hasStep {
		if n, err := strconv.Atoi(step); err != nil || n < 1 {
			return "step wants a whole number of at least 1"
		}
	}
	if rangePart == "*" || rangePart == "?" {
		return ""
	}
	lo, hi, isRange := strings.Cut(rangePart, "-")
	start, problem := f.value(lo)
	if problem != "" {
		return problem
	}
	if isRange {
		end, problem := f.value(hi)
		if problem != "" {
			return problem
		}
		if end < start {
			return "range ends before it starts"
		}
	}
	return ""
}

func (f cronField) value(s string) (int, string) {
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, ""
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, "not a number"
	}
	if n < f.min || n > f.max {
		return 0, fmt.Sprintf("%d is outside %d-%d", n, f.min, f.max)
	}
	return n, ""
}
