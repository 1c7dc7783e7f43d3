package upgrade

import (
	"fmt"
)

// openESP takes Options.ESP, or mounts the ESP of the disk the node
// booted from (MountESP), to be unmounted when Apply returns.
func (a *applier) openESP() error {
	if a.opts.ESP != nil {
		a.esp = a.opts.ESP
		return nil
	}
	esp, unmount, err := MountESP(a.opts.Root, a.slot)
	if err != nil {
		return err
	}
	a.esp, a.unmount = esp, unmount
	return nil
}

// checkESPRoom refuses, before anything is changed, when the ESP cannot
// take the target slot's kernel and initramfs once the slot's old files
// are removed (RemoveSlot), and returns the room there will be.
func (a *applier) checkESPRoom() (int64, error) {
	free, err := a.esp.Free()
	if err != nil {
		return 0, err
	}
	old, err := a.esp.SlotSize(a.target)
	if err != nil {
		return 0, err
	}
	room := free + old
	if need := a.m.Kernel.Size + a.m.Initrd.Size; need > room {
		return room, fmt.Errorf("no room on the ESP for slot %s's kernel and initramfs: %s free (with slot %s's old files removed), %s needed", a.target.Name, humanSize(room), a.target.Name, humanSize(need))
	}
	return room, nil
}
