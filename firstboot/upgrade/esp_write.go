package upgrade

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// slotFileName is the name of a file in a slot's directory on the ESP.
var slotFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// WriteSlotFile writes the ESP file rel ("appliance/<slot>/<name>", e.g.
// bootslot.B.KernelPath()) from r, which must give exactly size bytes
// with the given sha256 (hex): it refuses early when the ESP has no room,
// checks size and digest as it writes a temporary file, and only then
// renames it into place. It refuses to write a slot that has a loader
// entry (RemoveSlot first): the running slot's files are never replaced.
func (e *ESP) WriteSlotFile(rel string, r io.Reader, size int64, sha256 string) error {
	dirRel, name := path.Split(rel)
	s, err := slotOfDir(strings.TrimSuffix(dirRel, "/"))
	if err != nil || !slotFileName.MatchString(name) {
		return fmt.Errorf("ESP file %q: want %s/<name> or %s/<name>", rel, bootslot.A.Dir(), bootslot.B.Dir())
	}
	if err := bootparam.CheckSHA256(sha256); err != nil {
		return fmt.Errorf("ESP file %s: %w", rel, err)
	}
	if err := e.refuseWithEntry(s, "write its file "+rel); err != nil {
		return err
	}
	if err := checkFree(e.Dir, size, rel); err != nil {
		return err
	}
	return e.writeFile(s.Dir(), name, func(w io.Writer) error {
		_, err := copyVerified(w, r, upgradebundle.File{Name: rel, Size: size, SHA256: sha256})
		return err
	})
}

// InstallEntry writes e's loader entry as a trial (bootslot.Trial:
// bootslot.Tries boots left), the last step of an apply: from then on
// the firmware boots e.Slot. It refuses when the slot's kernel or
// initramfs is not on the ESP (systemd-boot would skip the entry, or stop
// at its menu when the initramfs cannot be loaded) and when the slot
// still has an entry.
func (e *ESP) InstallEntry(en bootslot.Entry) error {
	data, err := en.Render()
	if err != nil {
		return err
	}
	for _, f := range []string{en.Slot.KernelPath(), en.Slot.InitrdPath()} {
		if !e.isFile(f) {
			return fmt.Errorf("loader entry of slot %s: %s is not on the ESP %s", en.Slot.Name, f, e.Dir)
		}
	}
	if err := e.refuseWithEntry(en.Slot, "install a new one"); err != nil {
		return err
	}
	if err := e.writeFile(bootslot.EntriesDir, bootslot.Trial(en.Slot).File(), bytesFill(data)); err != nil {
		return err
	}
	return e.syncfs()
}

// maxLoaderConf bounds loader.conf read back.
const maxLoaderConf = 64 << 10

// EnsureLoaderConf rewrites loader.conf when it is not
// bootslot.LoaderConf(): a disk an older builder made says "default
// appliance-a.conf", which would keep booting slot A.
func (e *ESP) EnsureLoaderConf() error {
	dir, err := e.openDir(path.Dir(bootslot.LoaderConfPath), true)
	if err != nil {
		return err
	}
	defer dir.Close()
	name := path.Base(bootslot.LoaderConfPath)
	old, err := smallfile.ReadIn(dir, name, maxLoaderConf)
	if err == nil && string(old) == bootslot.LoaderConf() {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, smallfile.ErrTooLarge) {
		return fmt.Errorf("ESP loader.conf: %w", err)
	}
	if err := e.writeFile(path.Dir(bootslot.LoaderConfPath), name, bytesFill([]byte(bootslot.LoaderConf()))); err != nil {
		return err
	}
	return e.syncfs()
}

// refuseWithEntry refuses to do what to slot s while s has a loader entry.
func (e *ESP) refuseWithEntry(s bootslot.Slot, what string) error {
	entries, err := e.Installed()
	if err != nil {
		return err
	}
	for _, en := range entries {
		if en.Name.Slot == s {
			return fmt.Errorf("slot %s has the loader entry %s: remove it before you %s", s.Name, en.File, what)
		}
	}
	return nil
}

// slotOfDir returns the slot whose ESP directory is dir.
func slotOfDir(dir string) (bootslot.Slot, error) {
	for _, s := range bootslot.Slots() {
		if dir == s.Dir() {
			return s, nil
		}
	}
	return bootslot.Slot{}, fmt.Errorf("%q is no slot's directory", dir)
}

func bytesFill(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	}
}

// writeFile replaces the file name of the ESP directory rel with what
// fill writes (atomicfile.Write: a temporary file named
// atomicfile.TempPrefix+..., which starts with "." as systemd-boot
// skips, fsynced, renamed into place, the directory fsynced; on an error
// the temporary file is removed), creating rel without following a link.
// vfat keeps no modes: the mode atomicfile sets is what a test's
// directory gets (fs/fat/file.c fat_setattr drops a mode FAT cannot hold
// without an error).
func (e *ESP) writeFile(rel, name string, fill func(io.Writer) error) error {
	dir, err := e.openDir(rel, true)
	if err != nil {
		return err
	}
	dir.Close()
	return atomicfile.Write(filepath.Join(e.Dir, rel, name), 0o600, fill)
}
