package upgrade

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// ReadStatus returns what `firstboot status` says of the node at root's
// releases and slots: the boot check's record (BootStatusPath), marked
// Earlier when an earlier boot wrote it, with an upgrade applied since
// then shown as the other slot's next boot. A node that has no record for
// the slot it runs gets one made from its OS image's release; a node
// booted from the network or live has no slots (Running.Slot is "").
func ReadStatus(root string) (BootStatus, error) {
	cmdline, err := readCmdline(root)
	if err != nil {
		return BootStatus{}, err
	}
	release := ""
	if r, err := ReadRelease(root); err == nil {
		release = r.Version
	}
	if _, ok := bootparam.ParseCmdline(cmdline)[bootparam.ArgSlot]; !ok {
		return BootStatus{Running: SlotStatus{Release: release}}, nil
	}
	running, err := BootedSlot(cmdline)
	if err != nil {
		return BootStatus{}, err
	}
	s, err := readBootStatus(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return BootStatus{}, err
	}
	if s.Running.Slot != running.Name {
		// No record, or one of a boot of the other slot.
		s = BootStatus{Running: SlotStatus{Slot: running.Name, Release: release}, Other: SlotStatus{Slot: running.Other().Name}}
	}
	bootID, err := readBootID(root)
	if err != nil {
		return BootStatus{}, err
	}
	s.Earlier = s.BootID != bootID
	if a, err := ReadApplied(root); err == nil && a.Slot == s.Other.Slot && a.Time.After(s.Updated) {
		s.Other = SlotStatus{Slot: a.Slot, Release: a.Release.Version, State: StateTrial, TriesLeft: bootslot.Tries}
	}
	return s, nil
}

// maxBootID bounds /proc/sys/kernel/random/boot_id (a UUID and a newline).
const maxBootID = 64

// readBootID returns the kernel's boot id under root.
func readBootID(root string) (string, error) {
	data, err := smallfile.Read(filepath.Join(root, "proc/sys/kernel/random/boot_id"), maxBootID)
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
