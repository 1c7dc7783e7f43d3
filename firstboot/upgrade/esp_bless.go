package upgrade

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// Bless renames slot s's loader entry to its name without a counter
// (bootslot.Blessed): systemd-boot stops counting its boots, as
// systemd-bless-boot's "good" does (bless-boot.c make_good). An entry
// already blessed is left as it is.
func (e *ESP) Bless(s bootslot.Slot) error {
	return e.renameEntry(s, "bless", func(bootslot.EntryName) bootslot.EntryName { return bootslot.Blessed(s) })
}

// MarkBad renames slot s's loader entry to no tries left
// (EntryName.MarkedBad), as systemd-bless-boot's "bad" does (bless-boot.c
// make_bad): systemd-boot sorts it last and boots the other slot. An
// entry with no tries left is left as it is.
func (e *ESP) MarkBad(s bootslot.Slot) error {
	return e.renameEntry(s, "mark bad", func(n bootslot.EntryName) bootslot.EntryName {
		if n.Bad() {
			return n
		}
		return n.MarkedBad()
	})
}

// renameEntry renames s's one loader entry to what to makes of its name,
// then fsyncs the entries directory and the ESP.
func (e *ESP) renameEntry(s bootslot.Slot, what string, to func(bootslot.EntryName) bootslot.EntryName) error {
	entries, err := e.Installed()
	if err != nil {
		return err
	}
	var mine []bootslot.Installed
	var files []string
	for _, en := range entries {
		if en.Name.Slot == s {
			mine = append(mine, en)
			files = append(files, en.File)
		}
	}
	if len(mine) != 1 {
		return fmt.Errorf("%s slot %s: %d loader entries of it on the ESP %s (%s), want one", what, s.Name, len(mine), e.Dir, strings.Join(files, " "))
	}
	from, target := mine[0].File, to(mine[0].Name).File()
	if from == target {
		return nil
	}
	dir, err := e.openDir(bootslot.EntriesDir, false)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Renameat(int(dir.Fd()), from, int(dir.Fd()), target); err != nil {
		return fmt.Errorf("%s slot %s: rename %s to %s: %w", what, s.Name, filepath.Join(dir.Name(), from), target, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return e.syncfs()
}
