package bootslot

import "strings"

// Choose is which slot systemd-boot v252 boots from the appliance entries
// of an ESP, with LoaderConf's "default appliance-*" and neither
// LoaderEntryOneShot nor LoaderEntryDefault set: it leaves out entries
// whose kernel is missing, sorts the rest as config_entry_compare does
// (the package comment has the rules) with sort_pointer_array's insertion
// sort, and takes the first (every appliance entry's id matches the
// glob). ok is false when no entry is left. It is a model for tests of
// the upgrade code, not something the node asks before a reboot: the
// firmware decides.
func Choose(entries []Installed) (s Slot, ok bool) {
	sorted := Sorted(entries)
	if len(sorted) == 0 {
		return Slot{}, false
	}
	return sorted[0].Name.Slot, true
}

// Sorted returns the entries systemd-boot would load, in its order (see
// Choose).
func Sorted(entries []Installed) []Installed {
	var a []Installed
	for _, e := range entries {
		if !e.KernelMissing {
			a = append(a, e)
		}
	}
	// util.c sort_pointer_array (v252, 457-481).
	for i := 1; i < len(a); i++ {
		e, k := a[i], i
		for ; k > 0 && compareEntries(a[k-1], e) > 0; k-- {
			a[k] = a[k-1]
		}
		a[k] = e
	}
	return a
}

// triesLeft is systemd-boot's tries_left: -1 without a counter.
func (e Installed) triesLeft() int {
	if !e.Name.Counting {
		return -1
	}
	return e.Name.Left
}

// id is systemd-boot's id of a type #1 entry: its file name, lowercased.
func (e Installed) id() string {
	if e.File == "" {
		return e.Name.File()
	}
	return strings.ToLower(e.File)
}

// compareEntries is boot.c config_entry_compare (v252, 1681-1733) for
// type #1 entries. A missing sort-key or machine-id is "" here and NULL
// there; strcmp16 orders NULL first, as strings.Compare orders "".
func compareEntries(a, b Installed) int {
	if r := cmpBool(a.triesLeft() == 0, b.triesLeft() == 0); r != 0 {
		return r
	}
	if r := cmpBool(a.SortKey == "", b.SortKey == ""); r != 0 {
		return r
	}
	if a.SortKey != "" && b.SortKey != "" {
		if r := strings.Compare(a.SortKey, b.SortKey); r != 0 {
			return r
		}
		if r := strings.Compare(a.MachineID, b.MachineID); r != 0 {
			return r
		}
		if r := -VersionCompare(a.Version, b.Version); r != 0 {
			return r
		}
	}
	if r := -VersionCompare(a.id(), b.id()); r != 0 {
		return r
	}
	if a.triesLeft() < 0 || b.triesLeft() < 0 {
		return 0
	}
	if r := -cmpInt(a.triesLeft(), b.triesLeft()); r != 0 {
		return r
	}
	return cmpInt(a.Name.Done, b.Name.Done)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
