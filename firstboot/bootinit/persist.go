package bootinit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Mounter mounts filesystems; unix.Mount in the init, a recording test
// double in tests.
type Mounter interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
}

// SyscallMounter mounts with mount(2).
type SyscallMounter struct{}

// Mount calls unix.Mount.
func (SyscallMounter) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

// PersistOptions says where the persistent paths come from and go to.
type PersistOptions struct {
	// StateDir is the mounted STATE filesystem.
	StateDir string
	// ImageRoot is the read-only OS image, where first-use seeds come from.
	ImageRoot string
	// NewRoot is the root being assembled (the overlay).
	NewRoot string
	Paths   []bootparam.Persistent
	Mounter Mounter
	// Rand supplies the machine ID's bytes.
	Rand io.Reader
	Log  *log.Logger
}

// SetupPersistent makes each persistent path's copy on STATE (seeding it
// from the image on first use) and bind-mounts it over the new root's path.
func SetupPersistent(o PersistOptions) error {
	for _, p := range o.Paths {
		state := filepath.Join(o.StateDir, p.Path)
		target := filepath.Join(o.NewRoot, p.Path)
		ok, err := seed(o, p, state)
		if err != nil {
			return fmt.Errorf("persistent %s: %w", p.Path, err)
		}
		if !ok {
			o.Log.Printf("persistent %s: nothing on STATE or in the image yet, not bound", p.Path)
			continue
		}
		if err := ensureTarget(target, p.IsDir); err != nil {
			return fmt.Errorf("persistent %s: %w", p.Path, err)
		}
		if err := o.Mounter.Mount(state, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("persistent %s: bind %s on %s: %w", p.Path, state, target, err)
		}
	}
	return nil
}

// seed makes sure STATE has a copy of p, reporting whether one exists.
// A seed is built under a temporary name and renamed into place, so a power
// cut during the first boot leaves no half-seeded directory.
func seed(o PersistOptions, p bootparam.Persistent, state string) (bool, error) {
	if _, err := os.Lstat(state); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		return false, err
	}
	tmp := state + ".seeding"
	if err := os.RemoveAll(tmp); err != nil {
		return false, err
	}
	image := filepath.Join(o.ImageRoot, p.Path)
	_, imgErr := os.Lstat(image)
	switch {
	case p.Path == "/etc/machine-id":
		if err := writeMachineID(tmp, o.Rand); err != nil {
			return false, err
		}
		o.Log.Printf("created %s", p.Path)
	case imgErr == nil:
		if err := copyTree(image, tmp); err != nil {
			return false, fmt.Errorf("seed from image: %w", err)
		}
		o.Log.Printf("seeded %s from the image", p.Path)
	case p.IsDir:
		if err := os.Mkdir(tmp, 0o755); err != nil {
			return false, err
		}
	default:
		return false, nil
	}
	// Flush the seed before it takes its final name, and the rename after:
	// a power cut must leave either no copy or a complete one.
	unix.Sync()
	if err := os.Rename(tmp, state); err != nil {
		return false, err
	}
	unix.Sync()
	return true, nil
}

func writeMachineID(path string, rand io.Reader) error {
	id := make([]byte, 16)
	if _, err := io.ReadFull(rand, id); err != nil {
		return fmt.Errorf("machine id: %w", err)
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(id)+"\n"), 0o444)
}

// ensureTarget creates the mount point in the (writable) new root.
func ensureTarget(target string, isDir bool) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	if isDir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return os.WriteFile(target, nil, 0o444)
}
