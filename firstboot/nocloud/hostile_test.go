package nocloud

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileSeedDouble is a test double for Mounter: instead of mounting the
// device it puts entries a hostile seed filesystem can hold (iso9660 with
// Rock Ridge has symbolic links, FIFOs and files of any size) into the
// mount point, as a mount would show them, and removes them on Unmount.
type hostileSeedDouble struct {
	make func(dir string) error
}

func (m hostileSeedDouble) MountReadOnly(device, dir, fstype string) error { return m.make(dir) }

func (m hostileSeedDouble) Unmount(dir string) error { return clearDir(dir) }

func TestLoadRefusesHostileFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$secret:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(dir string) error
		err  string
	}{
		{
			name: "symbolic link to a file of the node",
			make: func(dir string) error { return os.Symlink(secret, filepath.Join(dir, FileUserData)) },
			err:  "/user-data: a symbolic link, not a regular file",
		},
		{
			name: "FIFO",
			make: func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, FileMetaData), 0o644) },
			err:  "/meta-data: not a regular file (p---------)",
		},
		{
			name: "larger than the bound",
			make: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, FileNetworkConfig), []byte(strings.Repeat("#\n", MaxFileBytes/2+1)), 0o644)
			},
			err: "/network-config: larger than 1048576 bytes",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "seed.img")
			makeVFAT(t, img, "CIDATA", "1024", nil, nil)
			root := fakeBlockRoot(t, map[string]string{"vdb": img})
			var err error
			done := make(chan struct{})
			go func() { _, err = Load(Options{Root: root, Mounter: hostileSeedDouble{make: tc.make}}); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load blocks")
			}
			if err == nil || !strings.HasPrefix(err.Error(), "seed /dev/vdb: read ") || !strings.HasSuffix(err.Error(), tc.err) {
				t.Fatalf("err = %v, want seed /dev/vdb: read ...%s", err, tc.err)
			}
			if left, _ := filepath.Glob(filepath.Join(root, "run", "firstboot-cidata-*")); len(left) != 0 {
				t.Errorf("mount points left behind: %q", left)
			}
		})
	}
}
