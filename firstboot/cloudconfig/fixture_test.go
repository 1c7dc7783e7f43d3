package cloudconfig

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// shadowGID is the gid of group shadow in testdata/root/etc/group.
const shadowGID = 42

// newRoot copies testdata/root into a temp dir and gives the account files
// Debian's modes: shadow and gshadow 0640 root:shadow, the rest 0644.
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	err := filepath.WalkDir("testdata/root", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/root", path)
		target := filepath.Join(root, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/etc/shadow", "/etc/gshadow"} {
		path := filepath.Join(root, name)
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		if chownAllowed() {
			if err := os.Chown(path, 0, shadowGID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// snapshot describes every entry under root: type, mode, owner and content
// or link target, so two snapshots are equal when the trees are.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", info.Mode(), st.Uid, st.Gid)
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += " " + string(data)
		}
		rel, _ := filepath.Rel(root, path)
		snap[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// diffSnapshots lists the entries that differ.
func diffSnapshots(a, b map[string]string) string {
	var diffs []string
	for k, v := range a {
		if b[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkFile checks a file's content, mode and owner.
func checkFile(t *testing.T, path, content string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	if got := readString(t, path); got != content {
		t.Errorf("%s:\ngot  %q\nwant %q", path, got, content)
	}
	checkMode(t, path, mode, uid, gid)
}

// checkMode checks the mode and (when running as root) owner of path.
func checkMode(t *testing.T, path string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode(); got != mode {
		t.Errorf("%s: mode %v, want %v", path, got, mode)
	}
	if !chownAllowed() {
		return
	}
	st := info.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: owner %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

// noLeftovers fails when a temporary file of this package is under root.
func noLeftovers(t *testing.T, root string) {
	t.Helper()
	for path := range snapshot(t, root) {
		if strings.HasPrefix(filepath.Base(path), tempPrefix) {
			t.Errorf("leftover temporary file %s", path)
		}
	}
}
