package iso

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// TestWriteStoresAPayloadOver4GiB gives xorriso a sparse image payload
// just over 4 GiB (payloads of the real platform are 4-6 GB), which ISO
// 9660 can only store as a multi-extent file, and checks the extents and,
// where the host lets root mount, that Linux's isofs reads the whole file
// back, as a live node serving it does. -iso-level 3 covers every file
// alike: an OS image that large is stored the same way. It writes a 4 GiB
// ISO: ~15 s here.
func TestWriteStoresAPayloadOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 4 GiB ISO")
	}
	needTool(t, "xorriso", "xorriso")
	in := testInputs(t)
	const size = 4<<30 + 1<<20
	in.Payload = filepath.Join(t.TempDir(), "payload.tar")
	f, err := os.Create(in.Payload)
	if err != nil {
		t.Fatal(err)
	}
	// A marker at the very end: the last extent must carry it.
	if _, err := f.WriteAt([]byte("END-OF-PAYLD"), size-12); err != nil {
		t.Fatal(err)
	}
	f.Close()
	iso := filepath.Join(t.TempDir(), "big.iso")
	writeISO(t, in, iso)

	lba := run(t, "xorriso", "-indev", iso, "-find", bootparam.ISOPayloadPath, "-exec", "report_lba")
	extents := regexp.MustCompile(`File data lba:\s+(\d+) ,\s+\d+ ,\s+\d+ ,\s+(\d+) , '`+regexp.QuoteMeta(bootparam.ISOPayloadPath)+`'`).FindAllStringSubmatch(lba, -1)
	if len(extents) < 2 {
		t.Fatalf("%s has %d extents, want a multi-extent file:\n%s", bootparam.ISOPayloadPath, len(extents), lba)
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
	img, err := os.Open(filepath.Join(mnt, bootparam.ISOPayloadPath))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	fi, err := img.Stat()
	if err != nil || fi.Size() != size {
		t.Fatalf("mounted %s: %v, %v; want %d bytes", bootparam.ISOPayloadPath, fi, err, size)
	}
	end := make([]byte, 12)
	if _, err := img.ReadAt(end, size-12); err != nil || string(end) != "END-OF-PAYLD" {
		t.Errorf("mounted %s ends in %q (%v), want END-OF-PAYLD", bootparam.ISOPayloadPath, end, err)
	}
}
