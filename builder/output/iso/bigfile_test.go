package iso

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestWriteStoresAnOSImageOver4GiB gives xorriso a sparse OS image just
// over 4 GiB, which ISO 9660 can only store as a multi-extent file, and
// checks the extents and, where the host lets root mount, that Linux's
// isofs reads the whole file back. It writes a 4 GiB ISO: ~15 s here.
func TestWriteStoresAnOSImageOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 4 GiB ISO")
	}
	needTool(t, "xorriso", "xorriso")
	in := testInputs(t)
	const size = 4<<30 + 1<<20
	in.OSImage = filepath.Join(t.TempDir(), "os.squashfs")
	f, err := os.Create(in.OSImage)
	if err != nil {
		t.Fatal(err)
	}
	// A marker at the very end: the last extent must carry it.
	if _, err := f.WriteAt([]byte("END-OF-IMAGE"), size-12); err != nil {
		t.Fatal(err)
	}
	f.Close()
	iso := filepath.Join(t.TempDir(), "big.iso")
	writeISO(t, in, iso)

	lba := run(t, "xorriso", "-indev", iso, "-find", "/appliance/os.squashfs", "-exec", "report_lba")
	extents := regexp.MustCompile(`File data lba:\s+(\d+) ,\s+\d+ ,\s+\d+ ,\s+(\d+) , '/appliance/os.squashfs'`).FindAllStringSubmatch(lba, -1)
	if len(extents) < 2 {
		t.Fatalf("os.squashfs has %d extents, want a multi-extent file:\n%s", len(extents), lba)
	}
	for _, e := range extents {
		if n, _ := strconv.ParseInt(e[2], 10, 64); n != size {
			t.Errorf("extent %s reports file size %s, want %d", e[1], e[2], size)
		}
	}

	if os.Geteuid() != 0 {
		t.Log("not root: the kernel's isofs reading the file back is left to the VM tests")
		return
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-o", "ro,loop", "-t", "iso9660", iso, mnt).CombinedOutput(); err != nil {
		t.Logf("cannot loop-mount here (%v: %s): the kernel's isofs reading the file back is left to the VM tests", err, out)
		return
	}
	defer exec.Command("umount", mnt).Run()
	img, err := os.Open(filepath.Join(mnt, "appliance/os.squashfs"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	fi, err := img.Stat()
	if err != nil || fi.Size() != size {
		t.Fatalf("mounted os.squashfs: %v, %v; want %d bytes", fi, err, size)
	}
	end := make([]byte, 12)
	if _, err := img.ReadAt(end, size-12); err != nil || string(end) != "END-OF-IMAGE" {
		t.Errorf("mounted os.squashfs ends in %q (%v), want END-OF-IMAGE", end, err)
	}
}
