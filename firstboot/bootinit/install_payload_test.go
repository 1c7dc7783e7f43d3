package bootinit

import (
	"bytes"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// The raw layout's PAYLOAD partition (builder/diskimage.TypePayload,
// attribute bit 60) as the builder's layout.json describes it.
const (
	testTypePayload  = "DCAE7997-905F-48A9-9313-A4EA41728FE9"
	testAttrReadOnly = bootparam.GPTAttributes(1) << 60
)

// newPayloadInstall lays out the six partitions of a raw disk with a
// payload, small: PAYLOAD between SECRETS and STATE, its source not a
// whole number of sectors.
func newPayloadInstall(t *testing.T) testInstall {
	return newTestInstallOf(t, []testPart{
		{name: "ESP", typ: testTypeESP, src: "/install/esp.img", sizeMiB: 4, data: randomBytes(1, 3*testMiB+77)},
		{name: "OS-A", typ: testTypeLinux, src: "/appliance/os.squashfs", sizeMiB: 8, data: randomBytes(2, 3*testMiB+123)},
		{name: "OS-B", typ: testTypeLinux, sizeMiB: 8},
		{name: "SECRETS", typ: testTypeLinux, src: "/install/secrets.img", sizeMiB: 1, data: randomBytes(4, 1500)},
		{name: "PAYLOAD", typ: testTypePayload, attrs: testAttrReadOnly, src: "/appliance/payload.tar", sizeMiB: 5, data: randomBytes(5, 4*testMiB+300)},
		{name: "STATE", typ: testTypeLinux, src: "/install/state.img", sizeMiB: 2, data: randomBytes(3, 2*testMiB)},
	})
}

// An install from an ISO with a payload writes PAYLOAD byte for byte
// from the ISO's payload.tar, with its type and read-only attribute, and
// the first boot's growing of STATE (now partition 6) leaves it alone.
func TestWriteInstallWritesThePayload(t *testing.T) {
	if _, err := exec.LookPath("sgdisk"); err != nil {
		t.Skip("sgdisk (gdisk) not installed")
	}
	ti := newPayloadInstall(t)
	const size = 48 * testMiB
	disk := testDisk(t, size/testMiB, 0xAB)
	if err := WriteInstall(ti.options(disk, size)); err != nil {
		t.Fatal(err)
	}
	payload := ti.layout.Partitions[4]
	want := ti.sources["PAYLOAD"]
	part := make([]byte, payload.Sectors*512)
	if _, err := disk.ReadAt(part, payload.FirstLBA*512); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part[:len(want)], want) || !allZero(part[len(want):]) {
		t.Errorf("PAYLOAD does not hold the payload followed by zeros")
	}
	if got, _ := DiskContent(disk, size); got != "GPT with 6 partitions" {
		t.Errorf("DiskContent after install = %q", got)
	}
	wantInfo := "Partition GUID code: " + testTypePayload + " (Unknown)\nPartition unique GUID: " + payload.UniqueGUID +
		"\nFirst sector: 45056 (at 22.0 MiB)\nLast sector: 55295 (at 27.0 MiB)\nPartition size: 10240 sectors (5.0 MiB)\n" +
		"Attribute flags: 1000000000000000\nPartition name: 'PAYLOAD'"
	checkSgdisk(t, disk.Name(), "5", wantInfo)

	// The first boot grows STATE, by its label, to a larger disk.
	res, err := growFile(t, disk.Name(), 64*testMiB)
	if err != nil || !res.Grown || res.Number != 6 {
		t.Fatalf("GrowPartition after install = %+v, %v; want STATE (6) grown", res, err)
	}
	checkSgdisk(t, disk.Name(), "5", wantInfo)
	if _, err := disk.ReadAt(part, payload.FirstLBA*512); err != nil || !bytes.Equal(part[:len(want)], want) {
		t.Errorf("growing STATE changed PAYLOAD (%v)", err)
	}
}

// checkSgdisk checks that sgdisk finds no problem with the GPT and that
// `sgdisk -i n` prints want.
func checkSgdisk(t *testing.T, disk, n, want string) {
	t.Helper()
	if out, err := exec.Command("sgdisk", "-v", disk).CombinedOutput(); err != nil || !strings.Contains(string(out), "No problems found") {
		t.Errorf("sgdisk -v: %v\n%s", err, out)
	}
	out, err := exec.Command("sgdisk", "-i", n, disk).CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Errorf("sgdisk -i %s: %v\n%s\nwant it to contain\n%s", n, err, out, want)
	}
}

func TestVerifyInstallChecksThePayload(t *testing.T) {
	ti := newPayloadInstall(t)
	const size = 48 * testMiB
	disk := testDisk(t, size/testMiB, 0)
	if err := WriteInstall(ti.options(disk, size)); err != nil {
		t.Fatal(err)
	}
	// A layout that wants PAYLOAD without its attribute does not match.
	noAttr := ti.layout
	noAttr.Partitions = append([]bootparam.InstallPartition(nil), ti.layout.Partitions...)
	noAttr.Partitions[4].Attributes = 0
	if err := VerifyInstall(disk, size, noAttr); err == nil || !strings.Contains(err.Error(), "GPT partition 5 is PAYLOAD LBA 45056-55295 attributes 0x1000000000000000, want PAYLOAD LBA 45056-55295 attributes 0x0") {
		t.Errorf("VerifyInstall against a layout without PAYLOAD's attribute: %v", err)
	}
	payload := ti.layout.Partitions[4]
	off := payload.FirstLBA*512 + payload.Size - 1
	if _, err := disk.WriteAt([]byte{^ti.sources["PAYLOAD"][payload.Size-1]}, off); err != nil {
		t.Fatal(err)
	}
	if err := VerifyInstall(disk, size, ti.layout); err == nil || !strings.Contains(err.Error(), "partition PAYLOAD reads back with sha256") {
		t.Errorf("VerifyInstall of a disk with PAYLOAD's last byte flipped: %v", err)
	}
}

func TestWriteInstallRefusesADamagedPayload(t *testing.T) {
	for _, c := range []struct {
		name string
		data func([]byte) []byte
		want string
	}{
		{"one byte changed", func(b []byte) []byte { b = bytes.Clone(b); b[12345] ^= 1; return b },
			"partition PAYLOAD: /appliance/payload.tar on the boot medium has sha256 "},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] },
			"partition PAYLOAD: /appliance/payload.tar has 4194603 bytes, the layout says 4194604"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ti := newPayloadInstall(t)
			if err := os.WriteFile(filepath.Join(ti.root, "/appliance/payload.tar"), c.data(ti.sources["PAYLOAD"]), 0o644); err != nil {
				t.Fatal(err)
			}
			disk := testDisk(t, 48, 0)
			err := WriteInstall(ti.options(disk, 48*testMiB))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("WriteInstall from a damaged payload: %v, want %q", err, c.want)
			}
			if _, err := gpt.Read(disk, 512, 512); err == nil {
				t.Errorf("a failed install left a GPT on the disk")
			}
		})
	}
}

// A long copy says how far it got, once per step, and not at its end
// (the line after the copy says that).
func TestProgressWriter(t *testing.T) {
	var out bytes.Buffer
	w := &progressWriter{w: &bytes.Buffer{}, log: log.New(&out, "", 0), name: "PAYLOAD", total: 5 << 20, step: 2 << 20}
	for range 5 {
		if _, err := w.Write(make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
	}
	want := "install: PAYLOAD: 2 of 5 MiB written\ninstall: PAYLOAD: 4 of 5 MiB written\n"
	if out.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", out.String(), want)
	}
}
