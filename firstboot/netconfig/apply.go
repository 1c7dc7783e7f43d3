package netconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
)

// NetworkDir is where Apply writes, under its root.
const NetworkDir = "etc/systemd/network"

// Apply makes root/etc/systemd/network hold exactly files among the names
// starting with FilePrefix: it writes each file whose content differs (with
// atomicfile), then removes the FilePrefix files it did not get and the
// temporary files an interrupted run left. Other files are left alone. It
// reports whether anything changed; a second call with the same files
// changes nothing. Every name must start with FilePrefix and be a plain file
// name; otherwise nothing is written. Apply with no files removes all of
// them.
func Apply(root string, files []File) (changed bool, err error) {
	want := map[string]bool{}
	for _, f := range files {
		if !strings.HasPrefix(f.Name, FilePrefix) || filepath.Base(f.Name) != f.Name || f.Name == FilePrefix {
			return false, fmt.Errorf("apply network config: file name %q: want a plain name starting with %q", f.Name, FilePrefix)
		}
		if want[f.Name] {
			return false, fmt.Errorf("apply network config: file name %q given twice", f.Name)
		}
		want[f.Name] = true
	}
	dir := filepath.Join(root, NetworkDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("apply network config: %w", err)
	}
	for _, f := range files {
		wrote, err := writeIfChanged(dir, f)
		if err != nil {
			return changed, fmt.Errorf("apply network config: %w", err)
		}
		changed = changed || wrote
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return changed, fmt.Errorf("apply network config: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		stale := strings.HasPrefix(name, FilePrefix) && !want[name]
		if !stale && !atomicfile.IsTemp(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return changed, fmt.Errorf("apply network config: remove stale file: %w", err)
		}
		changed = changed || stale
	}
	if changed {
		if err := atomicfile.SyncDir(dir); err != nil {
			return changed, fmt.Errorf("apply network config: %w", err)
		}
	}
	return changed, nil
}

// writeIfChanged replaces dir/f.Name with f.Content unless it already holds
// exactly that with mode 0644.
func writeIfChanged(dir string, f File) (bool, error) {
	path := filepath.Join(dir, f.Name)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Content) {
		if info, err := os.Lstat(path); err == nil && info.Mode() == 0o644 {
			return false, nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := atomicfile.WriteFile(path, f.Content, 0o644); err != nil {
		return false, err
	}
	return true, nil
}
