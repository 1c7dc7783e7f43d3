package bootinit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAttachLoopReadsTheFileReadOnly attaches a file to a real loop
// device: it needs root and the host's loop driver.
func TestAttachLoopReadsTheFileReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach a loop device")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no loop driver on this host: ", err)
	}
	img := filepath.Join(t.TempDir(), "os.squashfs")
	want := bytes.Repeat([]byte("appliance"), 1000)[:8192]
	if err := os.WriteFile(img, want, 0o644); err != nil {
		t.Fatal(err)
	}
	dev, err := AttachLoop(img, "/dev")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := DetachLoop(dev); err != nil {
			t.Error(err)
		}
	})
	if !strings.HasPrefix(dev, "/dev/loop") {
		t.Errorf("AttachLoop() = %q, want /dev/loopN", dev)
	}
	got, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("loop device reads %d bytes that differ from the file's %d", len(got), len(want))
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ro, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKROGET)
	if err != nil || ro != 1 {
		t.Errorf("BLKROGET = %d, %v; want a read-only device", ro, err)
	}
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	// The kernel keeps the first 63 bytes of the name.
	if name := cString(info.File_name[:]); name == "" || !strings.HasPrefix(img, name) {
		t.Errorf("loop backing file %q, want (a prefix of) %q", name, img)
	}
}

func TestAttachLoopNamesWhatIsMissing(t *testing.T) {
	_, err := AttachLoop("/nonexistent/os.squashfs", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "loop device for /nonexistent/os.squashfs") {
		t.Errorf("AttachLoop(missing file) = %v", err)
	}
	img := filepath.Join(t.TempDir(), "os.squashfs")
	os.WriteFile(img, []byte("x"), 0o644)
	_, err = AttachLoop(img, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is the loop module loaded?") {
		t.Errorf("AttachLoop(no loop-control) = %v", err)
	}
}
