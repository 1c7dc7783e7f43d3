package upgrade

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// ESP is a mounted EFI system partition, read and written in package
// bootslot's A/B layout.
//
// Every file it writes is written under a temporary name starting with
// "." (atomicfile.Write), fsynced, renamed into place, and its directory
// fsynced; on an error the temporary file is removed. systemd-boot never
// reads a loader entry whose name starts with "." (boot.c
// config_load_entries, v252 line 1665), so a leftover of a power cut is
// no entry. FAT has no journal: what keeps a power cut harmless is the
// order Apply writes in (the loader entry last, after files it checked),
// not the renames alone.
//
// No directory of the layout and no entry is followed through a symbolic
// link: each is opened relative to its parent with O_NOFOLLOW (a FAT
// filesystem has no links; a test's directory might).
type ESP struct {
	// Dir is where the ESP is mounted.
	Dir string
}

// Installed returns the appliance's loader entries on the ESP (file
// names bootslot.ParseEntryName takes; other files are no concern of
// the appliance), in name order, each read (at most
// bootslot.MaxEntrySize bytes) and parsed, with KernelMissing set where
// the kernel it names is not a regular file on the ESP. An ESP without
// loader/entries has none.
func (e *ESP) Installed() ([]bootslot.Installed, error) {
	dir, err := e.openDir(bootslot.EntriesDir, false)
	if isMissingDir(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	names, err := dirNames(dir)
	if err != nil {
		return nil, err
	}
	var entries []bootslot.Installed
	for _, name := range names {
		if _, ok := bootslot.ParseEntryName(name); !ok {
			continue
		}
		data, err := smallfile.ReadIn(dir, name, bootslot.MaxEntrySize)
		if err != nil {
			return nil, fmt.Errorf("ESP loader entry: %w", err)
		}
		inst, err := bootslot.ParseInstalled(name, data)
		if err != nil {
			return nil, fmt.Errorf("ESP %s: %w", e.Dir, err)
		}
		inst.KernelMissing = !e.isFile(inst.Entry.Slot.KernelPath())
		entries = append(entries, inst)
	}
	return entries, nil
}

// NextGeneration is the generation of a slot written now: one more than
// the highest of the entries on the ESP (at least 1), so systemd-boot
// sorts the new entry first.
func (e *ESP) NextGeneration() (int, error) {
	entries, err := e.Installed()
	if err != nil {
		return 0, err
	}
	gen := 0
	for _, en := range entries {
		gen = max(gen, en.Entry.Generation)
	}
	return gen + 1, nil
}

// Free is the space left on the ESP, in bytes.
func (e *ESP) Free() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(e.Dir, &st); err != nil {
		return 0, fmt.Errorf("free space of the ESP %s: %w", e.Dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// SlotSize is the size of slot s's files on the ESP (its kernel and
// initramfs): the room RemoveSlot frees.
func (e *ESP) SlotSize(s bootslot.Slot) (int64, error) {
	dir, err := e.openDir(s.Dir(), false)
	if isMissingDir(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer dir.Close()
	var size int64
	err = eachFile(dir, func(name string, st *unix.Stat_t) error {
		size += st.Size
		return nil
	})
	return size, err
}

// RemoveSlot removes every loader entry of slot s (whatever its counter)
// and leftovers of interrupted writes of entries, fsyncs the entries
// directory, then removes the files of s's directory on the ESP (its
// kernel and initramfs, which no entry names any more) and fsyncs that.
// Nothing can boot s afterwards; the other slot's files are not touched.
func (e *ESP) RemoveSlot(s bootslot.Slot) error {
	if err := e.removeIn(bootslot.EntriesDir, func(name string) bool {
		n, ok := bootslot.ParseEntryName(name)
		return ok && n.Slot == s || atomicfile.IsTemp(name)
	}); err != nil {
		return fmt.Errorf("remove slot %s's loader entries: %w", s.Name, err)
	}
	if err := e.removeIn(s.Dir(), func(string) bool { return true }); err != nil {
		return fmt.Errorf("remove slot %s's boot files: %w", s.Name, err)
	}
	return e.syncfs()
}

// removeIn removes the regular files of the ESP directory rel whose names
// remove takes, and fsyncs it; a missing directory has none.
func (e *ESP) removeIn(rel string, remove func(name string) bool) error {
	dir, err := e.openDir(rel, false)
	if isMissingDir(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	err = eachFile(dir, func(name string, _ *unix.Stat_t) error {
		if !remove(name) {
			return nil
		}
		if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", filepath.Join(dir.Name(), name), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// openDir opens the directory rel ("/"-separated) of the ESP, one
// element at a time without following a link, creating what is missing
// when create is set.
func (e *ESP) openDir(rel string, create bool) (*os.File, error) {
	fd, err := unix.Open(e.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: e.Dir, Err: err}
	}
	at := e.Dir
	for _, name := range strings.Split(rel, "/") {
		at = filepath.Join(at, name)
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, name, 0o700); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
			return nil, fmt.Errorf("ESP %s: not a directory (a link or a file)", at)
		case errors.Is(err, unix.ENOENT):
			return nil, missingDirError{&fs.PathError{Op: "open", Path: at, Err: err}}
		case err != nil:
			return nil, &fs.PathError{Op: "open", Path: at, Err: err}
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), at), nil
}

// missingDirError is a directory of the layout missing on the ESP (the
// ESP's own directory missing is another error).
type missingDirError struct{ *fs.PathError }

func (e missingDirError) Unwrap() error { return e.PathError }

// isMissingDir says whether err is openDir's for a missing directory of
// the layout.
func isMissingDir(err error) bool {
	var m missingDirError
	return errors.As(err, &m)
}

// isFile says whether rel is a regular file on the ESP, reached without
// following a link.
func (e *ESP) isFile(rel string) bool {
	dir, err := e.openDir(path.Dir(rel), false)
	if err != nil {
		return false
	}
	defer dir.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(dir.Fd()), path.Base(rel), &st, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}

// syncfs flushes the whole ESP, as systemd-bless-boot does after its
// rename (bless-boot.c verb_set: fsync_parent_at, then syncfs).
func (e *ESP) syncfs() error {
	dir, err := e.openDir(".", false)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Syncfs(int(dir.Fd())); err != nil {
		return fmt.Errorf("sync the ESP %s: %w", e.Dir, err)
	}
	return nil
}

// dirNames lists dir's names, sorted.
func dirNames(dir *os.File) ([]string, error) {
	if _, err := dir.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("list %s: %w", dir.Name(), err)
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir.Name(), err)
	}
	slices.Sort(names)
	return names, nil
}

// eachFile calls fn for each regular file of dir, in name order.
func eachFile(dir *os.File, fn func(name string, st *unix.Stat_t) error) error {
	names, err := dirNames(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("stat %s: %w", filepath.Join(dir.Name(), name), err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if err := fn(name, &st); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs an open directory, so that a rename or removal in it is
// durable.
func syncDir(dir *os.File) error {
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir.Name(), err)
	}
	return nil
}
