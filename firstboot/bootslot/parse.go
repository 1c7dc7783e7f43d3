package bootslot

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// MaxEntrySize bounds an entry file read back from the ESP.
const MaxEntrySize = 16 << 10

// entryLines is what systemd-boot v252 keeps of a type #1 entry
// (boot.c config_entry_add_type1, 1414-1545); "" stands for a line the
// entry lacks.
type entryLines struct {
	title, sortKey, machineID, version, linux string
	// options joins every "options" line with a blank, as systemd-boot does.
	options string
}

// parseLines reads an entry as boot.c line_get_key_value (1103-1175) does:
// the content ends at a NUL byte (it is a C string); lines end at "\n" or
// "\r"; blanks (space, tab) around a line are dropped; a line starting
// with "#" and a line without a blank after its key are skipped; the
// value starts after the blanks that follow the key and loses one pair of
// enclosing double quotes. A key given twice keeps its last value.
func parseLines(data []byte) entryLines {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	var e entryLines
	for _, line := range strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.Trim(line, " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			continue
		}
		key, value := line[:i], strings.TrimLeft(line[i:], " \t")
		if strings.HasPrefix(value, `"`) && strings.HasSuffix(line, `"`) {
			value = strings.TrimSuffix(value[1:], `"`)
		}
		switch key {
		case "title":
			e.title = value
		case "sort-key":
			e.sortKey = value
		case "machine-id":
			e.machineID = value
		case "version":
			e.version = value
		case "linux":
			e.linux = value
		case "options":
			if e.options != "" {
				value = e.options + " " + value
			}
			e.options = value
		}
	}
	return e
}

// Titles Render writes, and the one an older builder wrote.
var (
	titleLine    = regexp.MustCompile(`^(\S+) (\S+) \(slot [ab](?:, kernel (\S+))?\)$`)
	oldTitleLine = regexp.MustCompile(`^(\S+) \(slot [ab]\)$`)
)

// ParseEntry reads back an entry Render wrote: the slot (from its linux
// line), the title's site, release and kernel version, the generation
// and the options. An entry written by an older builder (title
// "<site> (slot <name>)", no sort-key, the kernel's release as its
// version) has generation 0, no release, and that version as its kernel
// version.
func ParseEntry(data []byte) (Entry, error) {
	if len(data) > MaxEntrySize {
		return Entry{}, fmt.Errorf("loader entry: %d bytes, more than %d", len(data), MaxEntrySize)
	}
	l := parseLines(data)
	var e Entry
	for _, s := range Slots() {
		if strings.EqualFold(l.linux, "/"+s.KernelPath()) {
			e.Slot = s
		}
	}
	if e.Slot.Name == "" {
		return Entry{}, fmt.Errorf("loader entry: linux %q: want /%s or /%s", l.linux, A.KernelPath(), B.KernelPath())
	}
	if m := titleLine.FindStringSubmatch(l.title); m != nil {
		e.Site, e.Release, e.KernelVersion = m[1], m[2], m[3]
	} else if m := oldTitleLine.FindStringSubmatch(l.title); m != nil {
		e.Site = m[1]
	}
	if g, err := strconv.Atoi(l.version); err == nil && g > 0 && g <= math.MaxInt32 {
		e.Generation = g
	} else if e.KernelVersion == "" && word.MatchString(l.version) {
		e.KernelVersion = l.version
	}
	e.Options = l.options
	return e, nil
}

// Installed is a loader entry as an ESP holds it: its file name and
// content, and what systemd-boot orders it by (Choose).
type Installed struct {
	// File is the entry's file name in EntriesDir, as found.
	File  string
	Name  EntryName
	Entry Entry
	// SortKey, MachineID and Version are the entry's lines of those
	// names as systemd-boot reads them ("" for a missing line).
	SortKey, MachineID, Version string
	// KernelMissing says the kernel its linux line names is not on the
	// ESP: systemd-boot leaves such an entry out (boot.c 1531-1535).
	KernelMissing bool
}

// ParseInstalled reads the entry file called file with content data. It
// refuses a name that is not an appliance entry (ParseEntryName) and an
// entry whose linux line names the other slot's kernel.
func ParseInstalled(file string, data []byte) (Installed, error) {
	n, ok := ParseEntryName(file)
	if !ok {
		return Installed{}, fmt.Errorf("loader entry %s: not an appliance entry's name", file)
	}
	e, err := ParseEntry(data)
	if err != nil {
		return Installed{}, fmt.Errorf("loader entry %s: %w", file, err)
	}
	if e.Slot != n.Slot {
		return Installed{}, fmt.Errorf("loader entry %s: boots slot %s's kernel, its name says slot %s", file, e.Slot.Name, n.Slot.Name)
	}
	l := parseLines(data)
	return Installed{File: file, Name: n, Entry: e, SortKey: l.sortKey, MachineID: l.machineID, Version: l.version}, nil
}
