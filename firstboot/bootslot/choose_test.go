package bootslot

import (
	"slices"
	"strings"
	"testing"
)

// installed is the entry file an ESP holds: Render's content for the
// slot its name says, at generation gen, read back by ParseInstalled. A
// generation of 0 writes what an older builder wrote instead.
func installed(t *testing.T, file string, gen int) Installed {
	t.Helper()
	n, ok := ParseEntryName(file)
	if !ok {
		t.Fatalf("%s: not an entry name", file)
	}
	var data []byte
	if gen == 0 {
		data = []byte("title lab (slot " + n.Slot.Name + ")\nversion 6.1.0-56-amd64\nlinux /" + n.Slot.KernelPath() +
			"\ninitrd /" + n.Slot.InitrdPath() + "\noptions appliance.slot=" + n.Slot.Name + "\n")
	} else {
		var err error
		data, err = Entry{Slot: n.Slot, Site: "lab", Release: "1.0.0", Generation: gen, Options: "appliance.slot=" + n.Slot.Name}.Render()
		if err != nil {
			t.Fatal(err)
		}
	}
	e, err := ParseInstalled(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestChooseAsSystemdBoot: the states an A/B disk goes through, and
// which slot systemd-boot v252 boots in each (config_entry_compare and
// config_default_entry_select, quoted in the package comment). Each case
// is checked in both directory orders.
func TestChooseAsSystemdBoot(t *testing.T) {
	type file struct {
		name string
		gen  int
	}
	for _, c := range []struct {
		name    string
		entries []file
		missing string // an entry whose kernel is not on the ESP
		want    string // "" for none
	}{
		{"a new disk", []file{{"appliance-a.conf", 1}}, "", "a"},
		{"an upgrade applied: the newer generation first", []file{{"appliance-a.conf", 1}, {"appliance-b+3.conf", 2}}, "", "b"},
		{"its first boot", []file{{"appliance-a.conf", 1}, {"appliance-b+2-1.conf", 2}}, "", "b"},
		{"its third boot", []file{{"appliance-a.conf", 1}, {"appliance-b+1-2.conf", 2}}, "", "b"},
		{"out of tries: last", []file{{"appliance-a.conf", 1}, {"appliance-b+0-3.conf", 2}}, "", "a"},
		{"marked bad", []file{{"appliance-a.conf", 1}, {"appliance-b+0-1.conf", 2}}, "", "a"},
		{"blessed", []file{{"appliance-a.conf", 1}, {"appliance-b.conf", 2}}, "", "b"},
		{"the next upgrade", []file{{"appliance-a+3.conf", 3}, {"appliance-b.conf", 2}}, "", "a"},
		{"generations compare as numbers", []file{{"appliance-a+3.conf", 10}, {"appliance-b.conf", 9}}, "", "a"},
		{"both bad: the newer still", []file{{"appliance-a+0-1.conf", 1}, {"appliance-b+0-3.conf", 2}}, "", "b"},
		{"the new slot's kernel is missing", []file{{"appliance-a.conf", 1}, {"appliance-b+3.conf", 2}}, "appliance-b+3.conf", "a"},
		{"same generation: the id decides, the newer (b) first", []file{{"appliance-a.conf", 2}, {"appliance-b.conf", 2}}, "", "b"},
		// A disk an older builder made: slot A without sort-key, slot B's
		// entry naming files nobody wrote.
		{"old disk", []file{{"appliance-a.conf", 0}, {"appliance-b.conf", 0}}, "appliance-b.conf", "a"},
		{"old disk, both bootable: by id", []file{{"appliance-a.conf", 0}, {"appliance-b.conf", 0}}, "", "b"},
		{"old disk upgraded: a sort-key sorts first", []file{{"appliance-a.conf", 0}, {"appliance-b+3.conf", 2}}, "", "b"},
		{"old disk, upgrade failed", []file{{"appliance-a.conf", 0}, {"appliance-b+0-3.conf", 2}}, "", "a"},
		{"nothing bootable", []file{{"appliance-a.conf", 1}}, "appliance-a.conf", ""},
		{"no entries", nil, "", ""},
	} {
		var entries []Installed
		for _, f := range c.entries {
			e := installed(t, f.name, f.gen)
			e.KernelMissing = f.name == c.missing
			entries = append(entries, e)
		}
		for range 2 {
			got, ok := Choose(entries)
			if ok != (c.want != "") || got.Name != c.want {
				var files []string
				for _, e := range entries {
					files = append(files, e.File)
				}
				t.Errorf("%s: Choose(%s) = %q, %v; want %q", c.name, strings.Join(files, " "), got.Name, ok, c.want)
			}
			slices.Reverse(entries)
		}
	}
}

// TestCompareEntriesTieBreaks: with equal ids, more tries left and then
// fewer done sort first; an entry without a counter ties (boot.c
// 1722-1732).
func TestCompareEntriesTieBreaks(t *testing.T) {
	e := func(n EntryName) Installed { return Installed{File: "x.conf", Name: n, SortKey: SortKey, Version: "1"} }
	for _, c := range []struct {
		a, b EntryName
		want int
	}{
		{EntryName{Slot: A, Counting: true, Left: 2}, EntryName{Slot: A, Counting: true, Left: 1}, -1},
		{EntryName{Slot: A, Counting: true, Left: 1, Done: 1}, EntryName{Slot: A, Counting: true, Left: 1, Done: 2}, -1},
		{EntryName{Slot: A, Counting: true, Left: 1}, Blessed(A), 0},
		{EntryName{Slot: A, Counting: true}, Blessed(A), 1},
	} {
		if got := compareEntries(e(c.a), e(c.b)); got != c.want {
			t.Errorf("compare %+v with %+v = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareEntries(e(c.b), e(c.a)); got != -c.want {
			t.Errorf("compare %+v with %+v = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
