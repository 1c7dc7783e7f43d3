package bootslot

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// EntryName is a loader entry's file name: the slot, and the boot
// counter when the entry has one.
type EntryName struct {
	Slot Slot
	// Counting is set while the entry is on trial (it has "+LEFT[-DONE]").
	Counting bool
	// Left is the tries left, Done the tries made (boot counting only).
	Left, Done int
}

// Trial returns the name of a newly written entry for s: Tries tries left.
func Trial(s Slot) EntryName { return EntryName{Slot: s, Counting: true, Left: Tries} }

// Blessed returns the name of s's entry once it passed its checks.
func Blessed(s Slot) EntryName { return EntryName{Slot: s} }

// Bad reports whether the entry has no tries left: systemd-boot sorts it
// last and boots the other slot.
func (n EntryName) Bad() bool { return n.Counting && n.Left == 0 }

// MarkedBad returns n with no tries left, as systemd-bless-boot's "bad"
// renames it (bless-boot.c make_bad: LEFT becomes 0, DONE is kept). An
// entry without a counter gets DONE 1: this boot counts as one.
func (n EntryName) MarkedBad() EntryName {
	if !n.Counting {
		return EntryName{Slot: n.Slot, Counting: true, Done: 1}
	}
	return EntryName{Slot: n.Slot, Counting: true, Done: n.Done}
}

// Bumped returns the name systemd-boot renames n to as it starts it
// (boot.c config_entry_parse_tries, next_name: LEFT-1, never below 0, and
// DONE+1, at most INT_MAX); an entry without a counter keeps its name.
// A test double of the firmware's side uses it.
func (n EntryName) Bumped() EntryName {
	if !n.Counting {
		return n
	}
	return EntryName{Slot: n.Slot, Counting: true, Left: max(n.Left-1, 0), Done: min(n.Done+1, math.MaxInt32)}
}

// File is the entry's file name inside EntriesDir.
func (n EntryName) File() string {
	switch {
	case !n.Counting:
		return n.Slot.EntryID() + ".conf"
	case n.Done == 0:
		return fmt.Sprintf("%s+%d.conf", n.Slot.EntryID(), n.Left)
	default:
		return fmt.Sprintf("%s+%d-%d.conf", n.Slot.EntryID(), n.Left, n.Done)
	}
}

// entryFile is an appliance entry's file name, lowercased: the slot, an
// optional counter "+LEFT" or "+LEFT-DONE", ".conf".
var entryFile = regexp.MustCompile(`^appliance-([ab])(?:\+([0-9]+)(?:-([0-9]+))?)?\.conf$`)

// maxFileName bounds a name ParseEntryName looks at (FAT's long names are
// at most 255 characters).
const maxFileName = 255

// ParseEntryName reads an entry's file name as systemd-boot v252 does;
// ok is false for a file that is not an appliance entry. The prefix, the
// slot and ".conf" are matched in any case (systemd-boot lowercases ids
// and takes "*.conf" in any case), but the counter counts only before
// exactly ".conf" and when each number is at most INT_MAX
// (config_entry_parse_tries); otherwise the entry has no counter.
func ParseEntryName(file string) (n EntryName, ok bool) {
	if len(file) > maxFileName {
		return EntryName{}, false
	}
	m := entryFile.FindStringSubmatch(strings.ToLower(file))
	if m == nil {
		return EntryName{}, false
	}
	s, err := ByName(m[1])
	if err != nil {
		return EntryName{}, false
	}
	n = EntryName{Slot: s}
	if m[2] == "" || !strings.HasSuffix(file, ".conf") {
		return n, true
	}
	left, okLeft := counter(m[2])
	done, okDone := 0, true
	if m[3] != "" {
		done, okDone = counter(m[3])
	}
	if !okLeft || !okDone {
		return n, true
	}
	return EntryName{Slot: s, Counting: true, Left: left, Done: done}, true
}

// counter parses a run of digits as systemd-boot's parse_number16, within
// INT_MAX.
func counter(digits string) (int, bool) {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, true
	}
	if len(digits) > 10 {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}

// Entry is the content of a slot's loader entry.
type Entry struct {
	Slot Slot
	// Site and Release name what the slot runs (the title line).
	Site, Release string
	// Generation orders the entries: the one written last has the
	// highest and boots first (the entry's "version" line).
	Generation int
	// KernelVersion is the kernel's release (informational, in the
	// title; "" leaves it out).
	KernelVersion string
	// Options is the kernel command line (Options).
	Options string
}

// word is what the title line's values keep to: no spaces or line breaks.
var word = regexp.MustCompile(`^[A-Za-z0-9._+~-]{1,128}$`)

// Render returns the entry file's content. Every value is checked: an
// entry is line-based, so a line break in a value would add a line.
func (e Entry) Render() ([]byte, error) {
	if !e.Slot.valid() {
		return nil, fmt.Errorf("loader entry: slot %q: want %q or %q", e.Slot.Name, A.Name, B.Name)
	}
	values := []struct{ what, v string }{{"site", e.Site}, {"release", e.Release}, {"kernel version", e.KernelVersion}}
	for _, f := range values {
		if (f.v != "" || f.what != "kernel version") && !word.MatchString(f.v) {
			return nil, fmt.Errorf("loader entry of slot %s: %s %q: want 1 to 128 letters, digits and . _ + ~ -", e.Slot.Name, f.what, f.v)
		}
	}
	if e.Generation < 1 || e.Generation > math.MaxInt32 {
		return nil, fmt.Errorf("loader entry of slot %s: generation %d: want 1 to %d", e.Slot.Name, e.Generation, math.MaxInt32)
	}
	if err := checkOptions(e.Options); err != nil {
		return nil, fmt.Errorf("loader entry of slot %s: options %q: %w", e.Slot.Name, e.Options, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "title %s\n", e.title())
	fmt.Fprintf(&b, "sort-key %s\n", SortKey)
	fmt.Fprintf(&b, "version %d\n", e.Generation)
	fmt.Fprintf(&b, "linux /%s\n", e.Slot.KernelPath())
	fmt.Fprintf(&b, "initrd /%s\n", e.Slot.InitrdPath())
	fmt.Fprintf(&b, "options %s\n", e.Options)
	return b.Bytes(), nil
}

// title is the menu's line: "<site> <release> (slot <name>, kernel <K>)".
func (e Entry) title() string {
	if e.KernelVersion == "" {
		return fmt.Sprintf("%s %s (slot %s)", e.Site, e.Release, e.Slot.Name)
	}
	return fmt.Sprintf("%s %s (slot %s, kernel %s)", e.Site, e.Release, e.Slot.Name, e.KernelVersion)
}

// checkOptions wants a value systemd-boot reads back unchanged: printable
// ASCII, no blank at either end (line_get_key_value trims them) and no
// double quote (it unquotes a value in quotes); bootparam's grammar for
// the arguments themselves is Options' to check.
func checkOptions(o string) error {
	if o == "" {
		return fmt.Errorf("empty")
	}
	if strings.TrimSpace(o) != o {
		return fmt.Errorf("a blank at an end")
	}
	for i := 0; i < len(o); i++ {
		if c := o[i]; c < 0x20 || c > 0x7e || c == '"' {
			return fmt.Errorf("byte 0x%02x at %d: want printable ASCII without '\"'", c, i)
		}
	}
	return nil
}
