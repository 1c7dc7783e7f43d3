package bootinit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

const testMiB = 1 << 20

// testInstall is an install source directory, its layout and the bytes
// each partition must start with.
type testInstall struct {
	root    string
	layout  bootparam.InstallLayout
	sources map[string][]byte // partition name -> source bytes
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testPart is one partition of a test layout: its name, type GUID,
// attributes, source path on the medium ("" for none), size and source
// bytes.
type testPart struct {
	name, typ string
	attrs     bootparam.GPTAttributes
	src       string
	sizeMiB   int64
	data      []byte
}

const (
	testTypeESP   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	testTypeLinux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

// newTestInstall lays out ESP 4 MiB, OS-A and OS-B 8 MiB, STATE 2 MiB from
// LBA 2048, like the raw layout but small.
func newTestInstall(t *testing.T) testInstall {
	return newTestInstallOf(t, []testPart{
		{name: "ESP", typ: testTypeESP, src: "/install/esp.img", sizeMiB: 4, data: randomBytes(1, 3*testMiB+77)},
		{name: "OS-A", typ: testTypeLinux, src: "/appliance/os.squashfs", sizeMiB: 8, data: randomBytes(2, 3*testMiB+123)},
		{name: "OS-B", typ: testTypeLinux, sizeMiB: 8},
		{name: "STATE", typ: testTypeLinux, src: "/install/state.img", sizeMiB: 2, data: randomBytes(3, 2*testMiB)},
	})
}

// newTestInstallOf lays out parts from LBA 2048 and writes their sources
// under a new medium directory.
func newTestInstallOf(t *testing.T, parts []testPart) testInstall {
	t.Helper()
	ti := testInstall{root: t.TempDir(), sources: map[string][]byte{}}
	ti.layout = bootparam.InstallLayout{SectorSize: 512, DiskGUID: "5A1E0C3D-8F4B-4C6A-9D2E-1F0A3B4C5D6E"}
	lba := int64(2048)
	for i, p := range parts {
		ip := bootparam.InstallPartition{
			Name: p.name, TypeGUID: p.typ, UniqueGUID: strings.Replace(ti.layout.DiskGUID, "5A1E", "000"+string(rune('1'+i)), 1),
			FirstLBA: lba, Sectors: p.sizeMiB * testMiB / 512, Attributes: p.attrs,
		}
		lba += ip.Sectors
		if p.src != "" {
			sum := sha256.Sum256(p.data)
			ip.Source, ip.Size, ip.SHA256 = p.src, int64(len(p.data)), hex.EncodeToString(sum[:])
			path := filepath.Join(ti.root, p.src)
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, p.data, 0o644); err != nil {
				t.Fatal(err)
			}
			ti.sources[p.name] = p.data
		}
		ti.layout.Partitions = append(ti.layout.Partitions, ip)
	}
	return ti
}

// testDisk makes a disk image file of sizeMiB filled with fill.
func testDisk(t *testing.T, sizeMiB int, fill byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(bytes.Repeat([]byte{fill}, sizeMiB*testMiB)); err != nil {
		t.Fatal(err)
	}
	return f
}

func (ti testInstall) options(disk *os.File, size int64) InstallOptions {
	return InstallOptions{Layout: ti.layout, SourceRoot: ti.root, Disk: disk, DiskSize: size, Log: log.New(io.Discard, "", 0)}
}

func TestWriteInstallWritesTheLayout(t *testing.T) {
	ti := newTestInstall(t)
	const size = 40 * testMiB
	disk := testDisk(t, size/testMiB, 0xAB) // old data everywhere
	if err := WriteInstall(ti.options(disk, size)); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(disk.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ti.layout.Partitions {
		start := p.FirstLBA * 512
		if want, ok := ti.sources[p.Name]; ok {
			if !bytes.Equal(img[start:start+int64(len(want))], want) {
				t.Errorf("partition %s does not start with %s", p.Name, p.Source)
			}
			if !allZero(img[start+int64(len(want)) : start+p.Sectors*512]) {
				t.Errorf("partition %s is not zeros after %s", p.Name, p.Source)
			}
			continue
		}
		if !allZero(img[start : start+p.Sectors*512]) {
			t.Errorf("partition %s is not all zeros", p.Name)
		}
	}
	table, err := gpt.Read(disk, 512, 512)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(table.GUID, ti.layout.DiskGUID) {
		t.Errorf("disk GUID %s, want %s", table.GUID, ti.layout.DiskGUID)
	}
	var names []string
	for _, p := range table.Partitions {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "ESP,OS-A,OS-B,STATE" {
		t.Errorf("GPT partitions %s", got)
	}
	// The backup GPT is at the disk's end, where GrowPartition looks.
	if string(img[size-512:size-512+8]) != "EFI PART" {
		t.Errorf("no backup GPT header in the last sector")
	}
	if got, _ := DiskContent(disk, size); got != "GPT with 4 partitions" {
		t.Errorf("DiskContent after install = %q", got)
	}
}

func TestVerifyInstallFindsACorruptedPartition(t *testing.T) {
	ti := newTestInstall(t)
	const size = 40 * testMiB
	disk := testDisk(t, size/testMiB, 0)
	if err := WriteInstall(ti.options(disk, size)); err != nil {
		t.Fatal(err)
	}
	osA := ti.layout.Partitions[1]
	if _, err := disk.WriteAt([]byte{0xFF ^ ti.sources["OS-A"][1000]}, osA.FirstLBA*512+1000); err != nil {
		t.Fatal(err)
	}
	err := VerifyInstall(disk, size, ti.layout)
	if err == nil || !strings.Contains(err.Error(), "partition OS-A reads back with sha256") {
		t.Fatalf("VerifyInstall of a disk with a flipped byte in OS-A: %v", err)
	}
}

func TestWriteInstallRefusesADamagedSource(t *testing.T) {
	ti := newTestInstall(t)
	const size = 40 * testMiB
	// The medium's OS image differs from what the layout recorded.
	if err := os.WriteFile(filepath.Join(ti.root, "/appliance/os.squashfs"), randomBytes(9, 3*testMiB+123), 0o644); err != nil {
		t.Fatal(err)
	}
	disk := testDisk(t, size/testMiB, 0)
	err := WriteInstall(ti.options(disk, size))
	if err == nil || !strings.Contains(err.Error(), "partition OS-A: /appliance/os.squashfs on the boot medium has sha256") {
		t.Fatalf("WriteInstall from a damaged medium: %v", err)
	}
	if _, err := gpt.Read(disk, 512, 512); err == nil {
		t.Errorf("a failed install left a GPT on the disk")
	}
}

func TestWriteInstallRefusesASmallDisk(t *testing.T) {
	ti := newTestInstall(t)
	disk := testDisk(t, 22, 0)
	err := WriteInstall(ti.options(disk, 22*testMiB))
	if err == nil || !strings.Contains(err.Error(), "disk of 22 MiB is too small: the layout needs 24 MiB") {
		t.Fatalf("WriteInstall to a 22 MiB disk: %v", err)
	}
}

func TestDiskContent(t *testing.T) {
	const size = 4 * testMiB
	mbr := make([]byte, size)
	mbr[510], mbr[511] = 0x55, 0xAA
	ext4 := make([]byte, size)
	le.PutUint16(ext4[1024+56:], 0xEF53)
	copy(ext4[1024+120:], "data\x00")
	tail := make([]byte, size)
	copy(tail[size-512:], "EFI PART")
	for _, c := range []struct {
		name string
		disk []byte
		want string
	}{
		{"zeros", make([]byte, size), ""},
		{"MBR", mbr, "an MBR partition table or boot sector"},
		{"ext4", ext4, `an ext4 filesystem labelled "data"`},
		{"backup GPT only", tail, "data in its last MiB (a backup GPT?)"},
		{"other", append([]byte{1}, make([]byte, size-1)...), "data in its first MiB"},
	} {
		got, err := DiskContent(bytes.NewReader(c.disk), size)
		if err != nil || got != c.want {
			t.Errorf("%s: DiskContent = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestParseConfigInstall(t *testing.T) {
	c, err := ParseConfig("appliance.os=ISO=ML_LAB:/appliance/os.squashfs appliance.state=tmpfs appliance.install=/dev/vdb,force")
	if err != nil {
		t.Fatal(err)
	}
	if c.Install == nil || *c.Install != (bootparam.InstallTarget{Device: "/dev/vdb", Force: true}) {
		t.Errorf("Install = %+v, want /dev/vdb with force", c.Install)
	}
	_, err = ParseConfig("appliance.os=PARTLABEL=OS-A appliance.install=auto")
	if want := "appliance.install needs appliance.os=ISO=<volume id>:<path>: it installs from an ISO"; err == nil || err.Error() != want {
		t.Errorf("install without an ISO: %v, want %s", err, want)
	}
}
