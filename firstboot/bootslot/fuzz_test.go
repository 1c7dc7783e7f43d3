package bootslot

import (
	"math"
	"strings"
	"testing"
)

// modelTries is boot.c config_entry_parse_tries (v252, 1301-1363) written
// out step by step, with the file filter of config_load_entries (1665,
// 1670): the counter after the last "+", LEFT, an optional "-DONE", then
// exactly ".conf", each within INT_MAX.
func modelTries(file string) (left, done int, counting bool) {
	plus := strings.LastIndexByte(file, '+')
	if plus < 0 {
		return 0, 0, false
	}
	rest := file[plus+1:]
	num := func() (int, bool) {
		i := 0
		var u uint64
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if u > (math.MaxUint64-9)/10 {
				return 0, false
			}
			u = u*10 + uint64(rest[i]-'0')
			i++
		}
		rest = rest[i:]
		return int(min(u, math.MaxInt32+1)), i > 0 && u <= math.MaxInt32
	}
	l, ok := num()
	if !ok {
		return 0, 0, false
	}
	d := 0
	if strings.HasPrefix(rest, "-") {
		rest = rest[1:]
		if d, ok = num(); !ok {
			return 0, 0, false
		}
	}
	if rest != ".conf" {
		return 0, 0, false
	}
	return l, d, true
}

// FuzzParseEntryName: whatever the name, ParseEntryName does not panic;
// a name it takes is a lowercase-insensitive appliance entry name, its
// counter is the one systemd-boot reads (modelTries), and the canonical
// name reads back as itself.
func FuzzParseEntryName(f *testing.F) {
	for _, s := range []string{"appliance-a.conf", "appliance-b+3.conf", "appliance-a+2-1.conf", "APPLIANCE-B+0-3.CONF",
		"appliance-a+99999999999.conf", "appliance-a+1+2.conf", ".appliance-a+3.conf", "appliance-a+3-.conf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		n, ok := ParseEntryName(file)
		if !ok {
			return
		}
		if !n.Slot.valid() || !strings.HasPrefix(strings.ToLower(file), n.Slot.EntryID()) {
			t.Fatalf("ParseEntryName(%q) = %+v", file, n)
		}
		left, done, counting := modelTries(file)
		if n.Counting != counting || n.Left != left || n.Done != done {
			t.Fatalf("ParseEntryName(%q) = %+v; systemd-boot reads left %d done %d counting %v", file, n, left, done, counting)
		}
		if back, ok := ParseEntryName(n.File()); !ok || back != n {
			t.Fatalf("ParseEntryName(%q) = %+v, %v; want %+v", n.File(), back, ok, n)
		}
	})
}

// FuzzParseEntry: whatever the content, ParseEntry does not panic; an
// entry it reads names a slot, and an entry it reads that Render takes
// reads back the same after Render.
func FuzzParseEntry(f *testing.F) {
	e, _ := testEntry().Render()
	f.Add(string(e))
	f.Add("title ml-lab (slot a)\nversion 6.1.0-56-amd64\nlinux /appliance/a/vmlinuz\noptions a=1\n")
	f.Add("title\t\"x 1 (slot b)\"\r\nlinux /appliance/b/vmlinuz\noptions \"a\"\noptions b\x00")
	f.Fuzz(func(t *testing.T, data string) {
		got, err := ParseEntry([]byte(data))
		if err != nil {
			return
		}
		if !got.Slot.valid() {
			t.Fatalf("ParseEntry(%q) = %+v", data, got)
		}
		out, err := got.Render()
		if err != nil {
			return
		}
		if back, err := ParseEntry(out); err != nil || back != got {
			t.Fatalf("ParseEntry(Render(%+v)) = %+v, %v", got, back, err)
		}
	})
}

// FuzzVersionCompare: VersionCompare ends, is antisymmetric and calls a
// string equal to itself.
func FuzzVersionCompare(f *testing.F) {
	f.Add("123~rc1-1", "123^post1")
	f.Add("appliance-a+2-1.conf", "appliance-a.conf")
	f.Fuzz(func(t *testing.T, a, b string) {
		if ab, ba := VersionCompare(a, b), VersionCompare(b, a); ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("VersionCompare(%q, %q) = %d, reversed %d", a, b, ab, ba)
		}
		if VersionCompare(a, a) != 0 {
			t.Fatalf("VersionCompare(%q, itself) != 0", a)
		}
	})
}
