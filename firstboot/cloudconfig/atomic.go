package cloudconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
)

// tempPrefix starts the names of temporary files: a dot file, which K3s's
// deploy controller skips, named like the agent's own leftovers.
const tempPrefix = atomicfile.TempPrefix

// owner is a uid and gid; -1 leaves that id as the file was created.
type owner struct{ uid, gid int }

// asCreated leaves a new file owned by the process.
var asCreated = owner{-1, -1}

// chownAllowed says whether to set owners: only root may give files away.
func chownAllowed() bool { return os.Geteuid() == 0 }

func (o owner) apply(path string, chown func(uid, gid int) error) error {
	if (o.uid < 0 && o.gid < 0) || !chownAllowed() {
		return nil
	}
	if err := chown(o.uid, o.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes data to path with atomicfile: owner set, then mode
// (chown clears setuid bits), fsync, rename over path, fsync of the
// directory. path then holds its old content or all of data, even across a
// power cut. Missing parent directories are created with mode 0755.
func writeFileAtomic(path string, data []byte, perm fs.FileMode, o owner) error {
	return atomicfile.WriteFile(path, data, perm, atomicfile.MkdirAll(0o755),
		atomicfile.BeforeChmod(func(tmp *os.File) error { return o.apply(path, tmp.Chown) }))
}

// symlinkAtomic makes path a symbolic link to target, replacing what was
// there by a rename. It reports whether it changed anything.
func symlinkAtomic(target, path string) (bool, error) {
	if current, err := os.Readlink(path); err == nil && current == target {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, tempPrefix+filepath.Base(path)+".link")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove %s: %w", tmp, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return false, fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("rename %s: %w", path, err)
	}
	return true, syncDir(dir)
}

// syncDir fsyncs a directory so a rename in it is durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
