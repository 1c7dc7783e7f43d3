package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// dirNames lists what dir holds, dot files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("old content, longer than the new one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new\n" {
		t.Errorf("content = %q (%v), want %q", got, err, "new\n")
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode() != 0o640 {
		t.Errorf("mode = %v (%v), want 0640", info.Mode(), err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only config.yaml (no temporary file left)", names)
	}
}

func TestWriteMkdirAll(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "file")
	err := WriteFile(path, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("write into a missing directory without MkdirAll: %v, want an error naming %s", err, path)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("without MkdirAll a directory was made: %v", err)
	}

	if err := WriteFile(path, []byte("x"), 0o644, MkdirAll(0o700)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
		info, err := os.Stat(d)
		if err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v (%v), want a directory with mode 0700", d, info, err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "x" {
		t.Errorf("content = %q (%v), want %q", got, err, "x")
	}
}

func TestWriteFailingFillKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("source went away")
	err := Write(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half of the new"); err != nil {
			return err
		}
		return broken
	})
	if !errors.Is(err, broken) || err.Error() != "write "+path+": source went away" {
		t.Errorf("error = %v, want %q wrapping the fill's error", err, "write "+path+": source went away")
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "old" {
		t.Errorf("content after a failed write = %q (%v), want the old %q", got, err, "old")
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only state.json (temporary file removed)", names)
	}
}

// TestBeforeChmodOrder checks that the hook runs on the written temporary
// file before its mode is set: a chown in the hook would clear a setuid bit
// set before it.
func TestBeforeChmodOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tool")
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 4321, 4321 // root may give the file away
	}
	var tmpName string
	var seen []byte
	err := WriteFile(path, []byte("#!/bin/sh\n"), 0o755|fs.ModeSetuid, BeforeChmod(func(f *os.File) error {
		tmpName = f.Name()
		var err error
		seen, err = os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		return f.Chown(uid, gid)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if string(seen) != "#!/bin/sh\n" {
		t.Errorf("hook saw content %q, want it written before the hook", seen)
	}
	if !IsTemp(filepath.Base(tmpName)) || filepath.Dir(tmpName) != dir {
		t.Errorf("hook ran on %s, want a temporary file in %s that IsTemp recognises", tmpName, dir)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o755|fs.ModeSetuid {
		t.Errorf("mode = %v, want -rwsr-xr-x (mode set after the hook's chown)", info.Mode())
	}
	st := info.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

func TestBeforeChmodErrorAsIs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "file")
	refused := errors.New("chown file: refused")
	err := WriteFile(path, []byte("x"), 0o644, BeforeChmod(func(*os.File) error { return refused }))
	if err != refused {
		t.Errorf("error = %v, want the hook's error as it is", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q after a failed hook, want nothing", names)
	}
}

// TestReaderSeesWholeFiles rewrites a file while another goroutine reads
// it: every read must see one whole version.
func TestReaderSeesWholeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.json")
	versions := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 32<<10)}
	if err := WriteFile(path, versions[0], 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("read: %v", err)
				return
			}
			if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
				t.Errorf("read %d bytes that are neither version", len(got))
				return
			}
		}
	}()
	for i := range 200 {
		if err := WriteFile(path, versions[i%2], 0o644); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".firstboot-registries.yaml.tmp-7654321": true,
		".firstboot-home.tmp":                    false, // not Write's
		"registries.yaml.tmp-1":                  false,
		"10-cloud-config-eth0.network":           false,
	} {
		if got := IsTemp(name); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSyncDirMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := SyncDir(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("SyncDir of a missing directory: %v, want an error naming it", err)
	}
}

// TestWriteRemovesLeftoversOfTheSameFile: a temporary file an interrupted
// write of the same file left is removed; other files' are not.
func TestWriteRemovesLeftoversOfTheSameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	mine := filepath.Join(dir, TempPrefix+"config.yaml"+tempInfix+"123")
	other := filepath.Join(dir, TempPrefix+"registries.yaml"+tempInfix+"456")
	for _, p := range []string{mine, other} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); !os.IsNotExist(err) {
		t.Errorf("leftover of the same file still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temporary file was removed: %v", err)
	}
}
