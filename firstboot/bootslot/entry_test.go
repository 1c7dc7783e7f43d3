package bootslot

import (
	"strings"
	"testing"
)

func TestEntryNamesRoundTrip(t *testing.T) {
	for _, s := range Slots() {
		names := []EntryName{Trial(s), Blessed(s), Trial(s).MarkedBad(), Blessed(s).MarkedBad()}
		for n := Trial(s); n.Left > 0; {
			n = n.Bumped()
			names = append(names, n, n.MarkedBad())
		}
		for _, n := range names {
			got, ok := ParseEntryName(n.File())
			if !ok || got != n {
				t.Errorf("ParseEntryName(%q) = %+v, %v; want %+v", n.File(), got, ok, n)
			}
		}
	}
}

func TestParseEntryNameAsSystemdBoot(t *testing.T) {
	for _, c := range []struct {
		file string
		want EntryName
		ok   bool
	}{
		{"appliance-a.conf", Blessed(A), true},
		{"appliance-b+3.conf", EntryName{Slot: B, Counting: true, Left: 3}, true},
		{"appliance-a+2-1.conf", EntryName{Slot: A, Counting: true, Left: 2, Done: 1}, true},
		{"appliance-a+4-0.conf", EntryName{Slot: A, Counting: true, Left: 4}, true},
		{"appliance-b+007-01.conf", EntryName{Slot: B, Counting: true, Left: 7, Done: 1}, true},
		// Ids are lowercased and "*.conf" is taken in any case (boot.c
		// 1539, 1670), but the counter counts only before exactly ".conf"
		// (1349) and within INT_MAX.
		{"APPLIANCE-A+0-3.conf", EntryName{Slot: A, Counting: true, Done: 3}, true},
		{"Appliance-B.CONF", Blessed(B), true},
		{"appliance-a+3.CONF", Blessed(A), true},
		{"appliance-a+2147483647.conf", EntryName{Slot: A, Counting: true, Left: 2147483647}, true},
		{"appliance-a+2147483648.conf", Blessed(A), true},
		{"appliance-a+1-99999999999999999999.conf", Blessed(A), true},
		// Not ours.
		{"appliance-c.conf", EntryName{}, false},
		{"appliance-ab.conf", EntryName{}, false},
		{"appliance-a.conf.bak", EntryName{}, false},
		{".appliance-a+3.conf", EntryName{}, false},
		{".firstboot-appliance-a+3.conf.tmp-123", EntryName{}, false},
		{"appliance-a+3+1.conf", EntryName{}, false},
		{"appliance-a+.conf", EntryName{}, false},
		{"appliance-a+3-.conf", EntryName{}, false},
		{"appliance-a-old.conf", EntryName{}, false},
		{"live.conf", EntryName{}, false},
		{"appliance-a+" + strings.Repeat("1", 300) + ".conf", EntryName{}, false},
	} {
		got, ok := ParseEntryName(c.file)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseEntryName(%q) = %+v, %v; want %+v, %v", c.file, got, ok, c.want, c.ok)
		}
	}
}

// TestBootCounting follows systemd-boot's series (boot.c 1313-1318:
// foobar+3 → +2-1 → +1-2 → +0-3, and a bad entry still booted goes on
// counting) and systemd-bless-boot's renames (bless-boot.c make_good,
// make_bad).
func TestBootCounting(t *testing.T) {
	n := Trial(B)
	var series []string
	for i := 0; i < 5; i++ {
		series = append(series, n.File())
		n = n.Bumped()
	}
	if got, want := strings.Join(series, " "), "appliance-b+3.conf appliance-b+2-1.conf appliance-b+1-2.conf appliance-b+0-3.conf appliance-b+0-4.conf"; got != want {
		t.Errorf("boot counting series %s, want %s", got, want)
	}
	for _, c := range []struct {
		n       EntryName
		bad     bool
		markBad string
	}{
		{Trial(A), false, "appliance-a+0.conf"},
		{Trial(A).Bumped(), false, "appliance-a+0-1.conf"},
		{Trial(A).Bumped().Bumped().Bumped(), true, "appliance-a+0-3.conf"},
		{Blessed(A), false, "appliance-a+0-1.conf"},
	} {
		if c.n.Bad() != c.bad {
			t.Errorf("%s: Bad() = %v, want %v", c.n.File(), c.n.Bad(), c.bad)
		}
		if got := c.n.MarkedBad(); got.File() != c.markBad || !got.Bad() {
			t.Errorf("%s marked bad: %s (bad %v), want %s", c.n.File(), got.File(), got.Bad(), c.markBad)
		}
	}
	if got := Blessed(B).Bumped(); got != Blessed(B) {
		t.Errorf("systemd-boot renamed an entry without a counter: %s", got.File())
	}
}

func testEntry() Entry {
	return Entry{Slot: B, Site: "ml-lab", Release: "1.2.0-rc.1", Generation: 2, KernelVersion: "6.1.0-56-amd64",
		Options: "appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b console=ttyS0,115200"}
}

func TestRender(t *testing.T) {
	got, err := testEntry().Render()
	if err != nil {
		t.Fatal(err)
	}
	want := "title ml-lab 1.2.0-rc.1 (slot b, kernel 6.1.0-56-amd64)\nsort-key appliance\nversion 2\n" +
		"linux /appliance/b/vmlinuz\ninitrd /appliance/b/initrd.img\n" +
		"options appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b console=ttyS0,115200\n"
	if string(got) != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderRefusesBadValues(t *testing.T) {
	for _, c := range []struct {
		edit func(*Entry)
		want string
	}{
		{func(e *Entry) { e.Site = "lab\noptions init=/bin/sh" }, `site "lab\noptions init=/bin/sh"`},
		{func(e *Entry) { e.Site = "" }, `site ""`},
		{func(e *Entry) { e.Release = "1.0\r" }, `release "1.0\r"`},
		{func(e *Entry) { e.Release = "1.0 (slot a)" }, `release "1.0 (slot a)"`},
		{func(e *Entry) { e.Release = "" }, `release ""`},
		{func(e *Entry) { e.Release = strings.Repeat("1", 129) }, "release"},
		{func(e *Entry) { e.KernelVersion = "6.1\ninitrd /x" }, `kernel version "6.1\ninitrd /x"`},
		{func(e *Entry) { e.Generation = 0 }, "generation 0"},
		{func(e *Entry) { e.Generation = 1 << 31 }, "generation 2147483648"},
		{func(e *Entry) { e.Options = "" }, "options \"\": empty"},
		{func(e *Entry) { e.Options = "quiet\noptions init=/bin/sh" }, "byte 0x0a at 5"},
		{func(e *Entry) { e.Options = "quiet\rinit=/bin/sh" }, "byte 0x0d at 5"},
		{func(e *Entry) { e.Options = "quiet\tinit=/bin/sh" }, "byte 0x09 at 5"},
		{func(e *Entry) { e.Options = `"quiet"` }, "byte 0x22 at 0"},
		{func(e *Entry) { e.Options = " quiet" }, "a blank at an end"},
		{func(e *Entry) { e.Options = "quiet\x00" }, "byte 0x00 at 5"},
		{func(e *Entry) { e.Slot = Slot{Name: "c"} }, `slot "c"`},
	} {
		e := testEntry()
		c.edit(&e)
		got, err := e.Render()
		if err == nil || !strings.Contains(err.Error(), c.want) || got != nil {
			t.Errorf("Render of %+v = %q, %v; want an error saying %s", e, got, err, c.want)
		}
	}
}

func TestParseEntryReadsRender(t *testing.T) {
	for _, e := range []Entry{testEntry(), {Slot: A, Site: "x", Release: "0.0.0", Generation: 1, Options: "appliance.slot=a"}} {
		data, err := e.Render()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEntry(data)
		if err != nil || got != e {
			t.Errorf("ParseEntry(Render(%+v)) = %+v, %v", e, got, err)
		}
	}
}

// TestParseEntryReadsAnOldBuildersEntry: what builder/output/raw wrote
// before the slot layout moved here (no sort-key, the kernel's release as
// version).
func TestParseEntryReadsAnOldBuildersEntry(t *testing.T) {
	old := "title ml-lab (slot a)\nversion 6.1.0-56-amd64\nlinux /appliance/a/vmlinuz\ninitrd /appliance/a/initrd.img\n" +
		"options appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a console=ttyS0,115200\n"
	got, err := ParseEntry([]byte(old))
	want := Entry{Slot: A, Site: "ml-lab", KernelVersion: "6.1.0-56-amd64",
		Options: "appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a console=ttyS0,115200"}
	if err != nil || got != want {
		t.Errorf("ParseEntry(old entry) = %+v, %v; want %+v", got, err, want)
	}
	inst, err := ParseInstalled("appliance-a.conf", []byte(old))
	if err != nil || inst.SortKey != "" || inst.Version != "6.1.0-56-amd64" || inst.Entry != want {
		t.Errorf("ParseInstalled(old entry) = %+v, %v", inst, err)
	}
}

// TestParseEntryAsSystemdBoot: line_get_key_value's rules (boot.c
// 1103-1175) and repeated options lines (1514-1524).
func TestParseEntryAsSystemdBoot(t *testing.T) {
	data := "# written by hand\r\n\ttitle\tml-lab 1.0.0 (slot b)  \r\n" +
		"sort-key \"appliance\"\nversion   7\nlinux /APPLIANCE/B/VMLINUZ\n" +
		"options a=1\noptions  b=2 \noptions\nversion\n\x00options c=3\n"
	got, err := ParseInstalled("appliance-b+1-2.conf", []byte(data))
	want := Entry{Slot: B, Site: "ml-lab", Release: "1.0.0", Generation: 7, Options: "a=1 b=2"}
	if err != nil || got.Entry != want || got.SortKey != "appliance" || got.Version != "7" {
		t.Errorf("ParseInstalled = %+v, %v; want entry %+v, sort-key appliance, version 7", got, err, want)
	}
	for _, c := range []struct{ file, data, want string }{
		{"appliance-a.conf", "title x\noptions y\n", `linux "": want /appliance/a/vmlinuz or /appliance/b/vmlinuz`},
		{"appliance-a.conf", "linux /appliance/c/vmlinuz\n", `linux "/appliance/c/vmlinuz"`},
		{"appliance-a.conf", "linux /appliance/b/vmlinuz\n", "boots slot b's kernel, its name says slot a"},
		{"appliance-a.conf", "linux /appliance/a/vmlinuz\n" + strings.Repeat("#", MaxEntrySize), "more than 16384"},
		{"live.conf", "linux /appliance/a/vmlinuz\n", "not an appliance entry's name"},
	} {
		if _, err := ParseInstalled(c.file, []byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseInstalled(%q, %q) = %v, want an error saying %s", c.file, c.data, err, c.want)
		}
	}
}

func TestOptionsAndLoaderConf(t *testing.T) {
	got, err := Options(B, []string{"console=ttyS0,115200", "quiet"})
	if want := "appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b console=ttyS0,115200 quiet"; err != nil || got != want {
		t.Errorf("Options = %q, %v; want %q", got, err, want)
	}
	for _, c := range []struct {
		s     Slot
		extra []string
		want  string
	}{
		{A, []string{"console=tty0 init=/bin/sh"}, "a blank at byte 12"},
		{A, []string{"a=\"b\""}, `'"' at byte 2`},
		{Slot{Name: "b"}, nil, `slot "b"`},
	} {
		if got, err := Options(c.s, c.extra); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Options(%+v, %q) = %q, %v; want an error saying %s", c.s, c.extra, got, err, c.want)
		}
	}
	if got, want := LoaderConf(), "default appliance-*\ntimeout 0\neditor no\n"; got != want {
		t.Errorf("LoaderConf = %q, want %q", got, want)
	}
	if s, err := ByName("b"); err != nil || s != B || s.Other() != A || A.Other() != B {
		t.Errorf("ByName(b) = %+v, %v", s, err)
	}
	if _, err := ByName("B"); err == nil {
		t.Errorf("ByName(B) took an upper-case slot name")
	}
}
