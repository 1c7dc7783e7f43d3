package bootinit

import (
	"bytes"
	"errors"
	"log"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// recordingMounter is a test double for mount(2): it records bind mounts.
type recordingMounter struct{ mounts []string }

func (m *recordingMounter) Mount(source, target, fstype string, flags uintptr, data string) error {
	if flags != unix.MS_BIND {
		return errors.New("recordingMounter only does bind mounts")
	}
	m.mounts = append(m.mounts, source+" -> "+target)
	return nil
}

func TestSetupPersistent(t *testing.T) {
	root := t.TempDir()
	image, state, newRoot := filepath.Join(root, "image"), filepath.Join(root, "state"), filepath.Join(root, "newroot")
	mtime := time.Unix(1600000000, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(image, "var/lib/app"), 0o755))
	must(os.WriteFile(filepath.Join(image, "var/lib/app/data"), []byte("seed"), 0o640))
	must(os.Lchown(filepath.Join(image, "var/lib/app/data"), 1000, 1001))
	must(unix.Chmod(filepath.Join(image, "var/lib/app"), 0o2750))
	must(os.Symlink("../run/lock", filepath.Join(image, "var/lock")))
	must(unix.Mkfifo(filepath.Join(image, "var/lib/fifo"), 0o600))
	for _, p := range []string{"var/lib/app/data", "var/lib/app", "var/lib/fifo"} {
		must(os.Chtimes(filepath.Join(image, p), mtime, mtime))
	}
	must(unix.Lutimes(filepath.Join(image, "var/lock"), []unix.Timeval{unix.NsecToTimeval(mtime.UnixNano()), unix.NsecToTimeval(mtime.UnixNano())}))
	must(os.MkdirAll(filepath.Join(newRoot, "var"), 0o755))
	must(os.MkdirAll(state, 0o755))

	paths := append(bootparam.PersistentPaths, bootparam.Persistent{Path: "/etc/hostid"})
	mounter := &recordingMounter{}
	var logBuf bytes.Buffer
	opts := PersistOptions{
		StateDir: state, ImageRoot: image, NewRoot: newRoot, Paths: paths,
		Mounter: mounter, Rand: bytes.NewReader(bytes.Repeat([]byte{0xab, 0x01}, 8)), Log: log.New(&logBuf, "", 0),
	}
	must(SetupPersistent(opts))

	wantMounts := []string{
		state + "/var -> " + newRoot + "/var",
		state + "/etc/rancher -> " + newRoot + "/etc/rancher",
		state + "/etc/machine-id -> " + newRoot + "/etc/machine-id",
	}
	if !reflect.DeepEqual(mounter.mounts, wantMounts) {
		t.Errorf("mounts =\n%s\nwant\n%s", strings.Join(mounter.mounts, "\n"), strings.Join(wantMounts, "\n"))
	}
	if id, _ := os.ReadFile(filepath.Join(state, "etc/machine-id")); string(id) != "ab01ab01ab01ab01ab01ab01ab01ab01\n" {
		t.Errorf("machine-id = %q", id)
	}
	// The seed keeps content, owner, mode (setgid too), symlinks, fifos and mtimes.
	var st unix.Stat_t
	must(unix.Lstat(filepath.Join(state, "var/lib/app/data"), &st))
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o640 || st.Mtim.Sec != mtime.Unix() {
		t.Errorf("seeded data: uid %d gid %d mode %o mtime %d", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Sec)
	}
	must(unix.Lstat(filepath.Join(state, "var/lib/app"), &st))
	if st.Mode&0o7777 != 0o2750 || st.Mtim.Sec != mtime.Unix() {
		t.Errorf("seeded dir: mode %o mtime %d", st.Mode&0o7777, st.Mtim.Sec)
	}
	must(unix.Lstat(filepath.Join(state, "var/lib/fifo"), &st))
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo copied as mode %o", st.Mode)
	}
	must(unix.Lstat(filepath.Join(state, "var/lock"), &st))
	if link, _ := os.Readlink(filepath.Join(state, "var/lock")); link != "../run/lock" || st.Mtim.Sec != mtime.Unix() {
		t.Errorf("symlink = %q mtime %d", link, st.Mtim.Sec)
	}
	if data, _ := os.ReadFile(filepath.Join(state, "var/lib/app/data")); string(data) != "seed" {
		t.Errorf("seeded content %q", data)
	}
	if fi, err := os.Stat(filepath.Join(state, "etc/rancher")); err != nil || !fi.IsDir() {
		t.Errorf("etc/rancher not made on STATE: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(newRoot, "etc/machine-id")); err != nil {
		t.Errorf("mount point for machine-id not created: %v", err)
	}
	if !strings.Contains(logBuf.String(), "persistent /etc/hostid: nothing on STATE or in the image yet, not bound") {
		t.Errorf("log lacks the unbound file:\n%s", logBuf.String())
	}

	// Second boot: STATE's copies win, nothing is reseeded.
	must(os.WriteFile(filepath.Join(state, "var/lib/app/data"), []byte("changed at run time"), 0o640))
	opts.Rand = bytes.NewReader(bytes.Repeat([]byte{0xff}, 16))
	mounter.mounts = nil
	must(SetupPersistent(opts))
	if data, _ := os.ReadFile(filepath.Join(state, "var/lib/app/data")); string(data) != "changed at run time" {
		t.Errorf("second boot reseeded /var: %q", data)
	}
	if id, _ := os.ReadFile(filepath.Join(state, "etc/machine-id")); string(id) != "ab01ab01ab01ab01ab01ab01ab01ab01\n" {
		t.Errorf("second boot changed machine-id to %q", id)
	}
	if len(mounter.mounts) != 3 {
		t.Errorf("second boot mounts: %v", mounter.mounts)
	}
}

func TestSetupPersistentLeftoverSeed(t *testing.T) {
	// A power cut during the first seed leaves var.seeding; it is redone.
	root := t.TempDir()
	image, state, newRoot := filepath.Join(root, "image"), filepath.Join(root, "state"), filepath.Join(root, "newroot")
	os.MkdirAll(filepath.Join(image, "var"), 0o755)
	os.WriteFile(filepath.Join(image, "var/complete"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(state, "var.seeding"), 0o755)
	os.WriteFile(filepath.Join(state, "var.seeding/partial"), []byte("x"), 0o644)
	err := SetupPersistent(PersistOptions{
		StateDir: state, ImageRoot: image, NewRoot: newRoot,
		Paths:   []bootparam.Persistent{{Path: "/var", IsDir: true}},
		Mounter: &recordingMounter{}, Log: log.New(&bytes.Buffer{}, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(state, "var"))
	if len(entries) != 1 || entries[0].Name() != "complete" {
		t.Errorf("STATE/var holds %v, want only complete", entries)
	}
}
