// Package bootslot is the A/B slot layout of the raw disk's EFI system
// partition: the contract between the builder, which writes the first
// slot, and firstboot's upgrade code, which writes the other one, blesses
// a slot that passed its checks and marks bad one that did not.
//
// Two slots, a and b, each an OS partition (GPT labels bootparam.LabelOSA
// and LabelOSB) with its kernel and initramfs on the ESP under
// appliance/<slot>/, and one systemd-boot loader entry,
// loader/entries/appliance-<slot>[+LEFT[-DONE]].conf.
//
// Boot counting is systemd's (systemd.io/AUTOMATIC_BOOT_ASSESSMENT): an
// upgrade writes its slot's entry as appliance-<slot>+3.conf; systemd-boot
// renames it to +2-1, +1-2, +0-3 as it boots it; a slot that passed its
// checks is blessed (appliance-<slot>.conf, no counter), and one that
// failed them is marked bad (+0-DONE), the renames systemd-bless-boot
// makes (src/boot/bless-boot.c make_good, make_bad).
//
// What systemd-boot v252 does with these files (Debian 12's
// systemd-boot-efi is 252.x; lines of src/boot/efi/boot.c at tag v252,
// whose functions named here v252.9 leaves unchanged):
//
//   - config_load_entries (1637-1679) reads every loader/entries/*.conf
//     ("*.conf" in any case, 1670) except a name starting with "." (1665)
//     or "auto-" (1672): a temporary file named ".…" is never an entry.
//   - config_entry_add_type1 drops an entry whose "linux" file does not
//     exist (1531-1535); the entry's id is its whole file name, lowercased
//     (1538-1539): "appliance-a+3.conf", counter and suffix included.
//   - config_entry_parse_tries (1301-1363) reads the counter after the
//     last "+": LEFT, optionally "-DONE", then exactly ".conf" (1349), each
//     at most INT_MAX; any other name is an entry without boot counting.
//   - config_entry_bump_counters (1365-1412), just before the chosen entry
//     starts, renames it to +(LEFT-1)-(DONE+1), never below +0, and sets
//     LoaderBootCountPath; an entry without a counter is left alone.
//   - config_entry_compare (1681-1733), an insertion sort (util.c
//     sort_pointer_array, stable): entries with no tries left go last
//     (1688); entries with a sort-key before those without (1696); among
//     those with one, by sort-key (1701), machine-id (1706), then version,
//     newest first, by strverscmp_improved (1711); then by id, "newest"
//     first (1719); then more tries left, then fewer done.
//   - config_default_entry_select (1750-1790) takes the first entry, in
//     that order, whose id matches loader.conf's "default" glob (1772,
//     efi_fnmatch, both lowercased: 1626), unless the EFI variables
//     LoaderEntryOneShot or LoaderEntryDefault name one (the appliance
//     sets neither).
//
// So: every entry carries sort-key SortKey and its Generation as its
// version, and loader.conf says "default appliance-*", which matches an
// id with or without a counter. The slot written last boots, unless it
// ran out of tries or was marked bad; then the other one boots. Choose is
// that choice, as a model for tests.
package bootslot

import (
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Slot is one A/B boot slot.
type Slot struct {
	// Name is "a" or "b": the appliance.slot kernel argument and the
	// slot's directory and entry names on the ESP.
	Name string
	// PartLabel is the GPT label of the slot's OS partition.
	PartLabel string
}

// The two slots.
var (
	A = Slot{Name: "a", PartLabel: bootparam.LabelOSA}
	B = Slot{Name: "b", PartLabel: bootparam.LabelOSB}
)

// Slots returns both slots, a first.
func Slots() []Slot { return []Slot{A, B} }

// ByName returns the slot called name ("a" or "b").
func ByName(name string) (Slot, error) {
	switch name {
	case A.Name:
		return A, nil
	case B.Name:
		return B, nil
	}
	return Slot{}, fmt.Errorf("slot %q: want %q or %q", name, A.Name, B.Name)
}

// Other returns the slot that is not s.
func (s Slot) Other() Slot {
	if s == A {
		return B
	}
	return A
}

// valid says whether s is A or B.
func (s Slot) valid() bool { return s == A || s == B }

// Paths inside the ESP, relative to its root, with "/" separators.
const (
	// BootloaderPath is systemd-boot, at the removable-media path.
	BootloaderPath = "EFI/BOOT/BOOTX64.EFI"
	LoaderConfPath = "loader/loader.conf"
	EntriesDir     = "loader/entries"
)

// Dir is the slot's directory on the ESP.
func (s Slot) Dir() string { return "appliance/" + s.Name }

// KernelPath and InitrdPath are the slot's kernel and initramfs.
func (s Slot) KernelPath() string { return s.Dir() + "/vmlinuz" }
func (s Slot) InitrdPath() string { return s.Dir() + "/initrd.img" }

// EntryID is the slot's loader entry name without boot counter and
// suffix: "appliance-a".
func (s Slot) EntryID() string { return EntryPrefix + s.Name }

// EntryPrefix starts every appliance loader entry's file name.
const EntryPrefix = "appliance-"

// Tries is how many times systemd-boot tries a newly written slot before
// it boots the other one.
const Tries = 3

// SortKey is every appliance entry's sort-key.
const SortKey = "appliance"

// DefaultGlob is loader.conf's "default": every appliance entry's id,
// with or without a boot counter (ids are whole file names in v252).
const DefaultGlob = EntryPrefix + "*"

// LoaderConf is loader.conf: boot the first appliance entry in
// systemd-boot's order at once (holding a key shows the menu) and allow
// no editing of the kernel command line at the menu.
func LoaderConf() string {
	return "default " + DefaultGlob + "\ntimeout 0\neditor no\n"
}

// Options is the kernel command line of slot s: where its OS image and
// STATE are, which slot it is, then the operator's arguments (site.yaml
// os.cmdline), each within bootparam's grammar.
func Options(s Slot, extra []string) (string, error) {
	if !s.valid() {
		return "", fmt.Errorf("kernel command line: slot %q: want %q or %q", s.Name, A.Name, B.Name)
	}
	args := []string{
		bootparam.ArgOS + "=PARTLABEL=" + s.PartLabel,
		bootparam.ArgState + "=PARTLABEL=" + bootparam.LabelState,
		bootparam.ArgSlot + "=" + s.Name,
	}
	args = append(args, extra...)
	if err := bootparam.CheckCmdline("kernel command line", args); err != nil {
		return "", err
	}
	return strings.Join(args, " "), nil
}
