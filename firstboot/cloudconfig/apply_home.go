package cloudconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// makeHome creates a user's home directory when it is missing and either
// the user was created now (and is not a system user) or has SSH keys: mode
// 0755, owned by the user, with a copy of /etc/skel. It is built under a
// temporary name and renamed, so a power cut never leaves half a home.
func makeHome(root string, a account, u User) error {
	home := filepath.Join(root, a.home)
	if _, err := os.Lstat(home); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("user %s: stat home %s: %w", a.name, home, err)
	}
	if !(a.created && !u.System) && len(u.SSHAuthorizedKeys) == 0 {
		return nil
	}
	parent := filepath.Dir(home)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("user %s: create %s: %w", a.name, parent, err)
	}
	tmp := filepath.Join(parent, tempPrefix+filepath.Base(home)+".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("user %s: remove leftover %s: %w", a.name, tmp, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("user %s: create home %s: %w", a.name, home, err)
	}
	if err := copySkel(filepath.Join(root, "/etc/skel"), tmp, a.owner); err != nil {
		return fmt.Errorf("user %s: %w", a.name, err)
	}
	if err := a.owner.apply(home, func(uid, gid int) error { return os.Lchown(tmp, uid, gid) }); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", home, err)
	}
	if err := os.Rename(tmp, home); err != nil {
		return fmt.Errorf("user %s: rename home %s: %w", a.name, home, err)
	}
	return syncDir(parent)
}

// copySkel copies the tree skel (when it exists) into dst, owned by o.
func copySkel(skel, dst string, o owner) error {
	if _, err := os.Stat(skel); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(skel, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copy %s: %w", skel, err)
		}
		rel, _ := filepath.Rel(skel, path)
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("copy %s: %w", path, err)
		}
		switch {
		case d.IsDir():
			err = os.Mkdir(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			var link string
			if link, err = os.Readlink(path); err == nil {
				err = os.Symlink(link, target)
			}
		case d.Type().IsRegular():
			var data []byte
			if data, err = os.ReadFile(path); err == nil {
				err = os.WriteFile(target, data, info.Mode().Perm())
			}
		default:
			return nil // devices, sockets: not home material
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", path, err)
		}
		if err := o.apply(target, func(uid, gid int) error { return os.Lchown(target, uid, gid) }); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		// Mkdir and WriteFile apply the umask; set the mode exactly.
		if err := os.Chmod(target, info.Mode().Perm()); err != nil {
			return fmt.Errorf("chmod %s: %w", target, err)
		}
		return nil
	})
}

// addAuthorizedKeys appends the keys missing from the user's
// ~/.ssh/authorized_keys, keeping the lines already there (cloud-init adds
// to the file too); .ssh gets mode 0700, the file 0600, both owned by the
// user. A symbolic link in place of .ssh is an error.
func addAuthorizedKeys(root string, a account, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	sshDir := filepath.Join(root, a.home, ".ssh")
	info, err := os.Lstat(sshDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(sshDir, 0o700); err != nil {
			return fmt.Errorf("user %s: create %s: %w", a.name, sshDir, err)
		}
	case err != nil:
		return fmt.Errorf("user %s: stat %s: %w", a.name, sshDir, err)
	case !info.IsDir():
		return fmt.Errorf("user %s: %s is not a directory", a.name, sshDir)
	}
	if err := a.owner.apply(sshDir, func(uid, gid int) error { return os.Lchown(sshDir, uid, gid) }); err != nil {
		return err
	}
	if err := os.Chmod(sshDir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", sshDir, err)
	}
	path := filepath.Join(sshDir, "authorized_keys")
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("user %s: read %s: %w", a.name, path, err)
	}
	return writeFileAtomic(path, mergeKeyLines(old, keys), 0o600, a.owner)
}

// mergeKeyLines returns the lines of old followed by each key not already
// one of them (compared without surrounding blanks).
func mergeKeyLines(old []byte, keys []string) []byte {
	var lines []string
	have := map[string]bool{}
	if text := strings.TrimRight(string(old), "\n"); text != "" {
		for _, line := range strings.Split(text, "\n") {
			lines = append(lines, line)
			have[strings.TrimSpace(line)] = true
		}
	}
	for _, key := range keys {
		if k := strings.TrimSpace(key); !have[k] {
			lines = append(lines, k)
			have[k] = true
		}
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
