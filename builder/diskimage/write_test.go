package diskimage

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testModTime is the fixed timestamp of the test images: 2023-11-14 22:13:20 UTC.
var testModTime = time.Unix(1700000000, 0)

// testESPFiles are the ESP files of the test images, with their contents.
func testESPFiles(t testing.TB) ([]File, map[string][]byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "bootx64.efi")
	boot := bootloaderBytes()
	writeFile(t, src, boot)
	entry := []byte("title Appliance (slot A)\n")
	loader := []byte("default appliance-a.conf\ntimeout 0\n")
	files := []File{
		{Path: "loader/loader.conf", Data: loader},
		{Path: "EFI/BOOT/BOOTX64.EFI", Source: src},
		{Path: "loader/entries/appliance-a.conf", Data: entry},
		{Path: "empty", Data: []byte{}},
	}
	want := map[string][]byte{
		"EFI/BOOT/BOOTX64.EFI":            boot,
		"loader/loader.conf":              loader,
		"loader/entries/appliance-a.conf": entry,
		"empty":                           {},
	}
	return files, want
}

// smallOptions is a small, fast disk: 64 MiB ESP, 8 MiB slots, 1 MiB SECRETS, 64 MiB STATE.
func smallOptions(t *testing.T, osImage string) Options {
	t.Helper()
	files, _ := testESPFiles(t)
	return Options{
		Seed:         "site-test",
		ESPSize:      64 * MiB,
		OSSlotSize:   8 * MiB,
		MinStateSize: 64 * MiB,
		OSImage:      osImage,
		ModTime:      testModTime,
		ESPFiles:     files,
	}
}

func testSquashfs(t *testing.T) string {
	return makeSquashfs(t, map[string]string{"etc/os-release": "ID=appliance-test\n"})
}

func write(t *testing.T, opts Options) (string, Layout) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	l, err := Write(context.Background(), img, opts)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return img, l
}

var sgdiskInfo = regexp.MustCompile(`(?m)^Partition GUID code: (\S+).*\n` +
	`Partition unique GUID: (\S+)\nFirst sector: (\d+).*\nLast sector: (\d+).*\n` +
	`(?:.*\n)*?Partition name: '(.*)'`)

func TestWriteGPTLayout(t *testing.T) {
	needTool(t, "sgdisk", "gdisk")
	img, l := write(t, smallOptions(t, testSquashfs(t)))

	if out := run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found.") {
		t.Errorf("sgdisk -v found problems:\n%s", out)
	}
	header := run(t, "sgdisk", "-p", img)
	if !strings.Contains(header, "Disk identifier (GUID): "+l.DiskGUID+"\n") {
		t.Errorf("sgdisk -p does not show disk GUID %s:\n%s", l.DiskGUID, header)
	}
	if info, err := os.Stat(img); err != nil || info.Size() != 147*MiB || l.Size != 147*MiB {
		t.Errorf("image size %v (err %v), layout size %d; want %d", info.Size(), err, l.Size, 147*MiB)
	}

	want := []struct {
		label, typeGUID string
		start, size     int64
	}{
		{"ESP", TypeEFISystem, MiB, 64 * MiB},
		{"OS-A", TypeLinuxFilesystem, 65 * MiB, 8 * MiB},
		{"OS-B", TypeLinuxFilesystem, 73 * MiB, 8 * MiB},
		{"SECRETS", TypeLinuxFilesystem, 81 * MiB, MiB},
		{"STATE", TypeLinuxFilesystem, 82 * MiB, 64 * MiB},
	}
	if len(l.Partitions) != len(want) {
		t.Fatalf("layout has %d partitions, want %d", len(l.Partitions), len(want))
	}
	guids := map[string]bool{l.DiskGUID: true}
	for i, w := range want {
		p := l.Partitions[i]
		if p.Number != i+1 || p.Label != w.label || p.TypeGUID != w.typeGUID || p.Start != w.start || p.Size != w.size {
			t.Errorf("layout partition %d = %+v, want number %d %+v", i, p, i+1, w)
		}
		m := sgdiskInfo.FindStringSubmatch(run(t, "sgdisk", "-i", strconv.Itoa(i+1), img))
		if m == nil {
			t.Fatalf("sgdisk -i %d: output not understood", i+1)
		}
		first, _ := strconv.ParseInt(m[3], 10, 64)
		last, _ := strconv.ParseInt(m[4], 10, 64)
		got := [5]string{m[1], m[2], m[5], strconv.FormatInt(first*512, 10), strconv.FormatInt((last+1-first)*512, 10)}
		exp := [5]string{w.typeGUID, p.UniqueGUID, w.label, strconv.FormatInt(w.start, 10), strconv.FormatInt(w.size, 10)}
		if got != exp {
			t.Errorf("sgdisk -i %d: (type, unique GUID, name, start, size) = %q, want %q", i+1, got, exp)
		}
		if guids[p.UniqueGUID] {
			t.Errorf("partition %s GUID %s is not unique", p.Label, p.UniqueGUID)
		}
		guids[p.UniqueGUID] = true
	}
	if out := run(t, "sgdisk", "-i", "6", img); !strings.Contains(out, "does not exist") {
		t.Errorf("sgdisk -i 6: want no sixth partition, got:\n%s", out)
	}
}

// The secrets volume goes, byte for byte, at the start of SECRETS; without
// one the partition is zeros. WriteParts' installer layout writes the
// same file there.
func TestWriteSecretsVolume(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	img, l := write(t, opts)
	secrets := l.mustPartition("SECRETS")
	if secrets.Number != 4 {
		t.Fatalf("SECRETS is partition %d, want 4", secrets.Number)
	}
	if got := readAt(t, img, secrets.Start, int(secrets.Size)); !bytes.Equal(got, make([]byte, secrets.Size)) {
		t.Error("SECRETS is not zeroed without a secrets volume")
	}
	volume := bytes.Repeat([]byte("APPLIANCE-SEC/1\n"), 1000)
	opts.Secrets = filepath.Join(t.TempDir(), "secrets.img")
	writeFile(t, opts.Secrets, volume)
	img, l = write(t, opts)
	got := readAt(t, img, secrets.Start, int(secrets.Size))
	if !bytes.Equal(got[:len(volume)], volume) || !bytes.Equal(got[len(volume):], make([]byte, int(secrets.Size)-len(volume))) {
		t.Error("SECRETS does not hold the volume followed by zeros")
	}
	if st := l.Partitions[len(l.Partitions)-1]; st.Label != "STATE" {
		t.Errorf("the last partition is %s, want STATE", st.Label)
	}

	writeFile(t, opts.Secrets, make([]byte, SecretsSize+1))
	if _, err := Write(context.Background(), filepath.Join(t.TempDir(), "disk.img"), opts); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("a volume larger than SECRETS: err = %v", err)
	}
}

func TestWriteESP(t *testing.T) {
	needTool(t, "fsck.fat", "dosfstools")
	needTool(t, "mcopy", "mtools")
	opts := smallOptions(t, testSquashfs(t))
	_, wantFiles := testESPFiles(t)
	img, l := write(t, opts)
	esp := l.mustPartition("ESP")

	part := extract(t, img, esp.Start, esp.Size)
	// A clean check prints its version and one summary line, nothing else.
	out := run(t, "fsck.fat", "-n", part)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], part+": 9 files, ") {
		t.Errorf("fsck.fat -n found problems:\n%s", out)
	}

	onImage := img + "@@" + strconv.FormatInt(esp.Start, 10)
	for name, want := range wantFiles {
		got := []byte(run(t, "mcopy", "-n", "-i", onImage, "::/"+name, "-"))
		if !bytes.Equal(got, want) {
			t.Errorf("ESP file %s: %d bytes differ from the %d bytes written", name, len(got), len(want))
		}
	}

	listing := run(t, "mdir", "-i", onImage, "-/", "::")
	if !strings.Contains(listing, "Volume in drive : is ESP") {
		t.Errorf("mdir: volume label is not ESP:\n%s", listing)
	}
	if !strings.Contains(listing, "Volume Serial Number is "+esp.FilesystemID+"\n") {
		t.Errorf("mdir: volume serial is not %s:\n%s", esp.FilesystemID, listing)
	}
	// Every entry, "." and ".." included, carries ModTime (UTC, 2 s steps).
	dated := regexp.MustCompile(`(?m)^\S.*\s(\d{4}-\d\d-\d\d  \d\d:\d\d)`).FindAllStringSubmatch(listing, -1)
	if len(dated) != 16 { // root 3, EFI 3, EFI/BOOT 3, loader 4, loader/entries 3
		t.Errorf("mdir listed %d dated entries, want 16:\n%s", len(dated), listing)
	}
	for _, m := range dated {
		if m[1] != "2023-11-14  22:13" {
			t.Errorf("mdir entry dated %s, want 2023-11-14  22:13: %q", m[1], m[0])
		}
	}
}

func TestWriteOSSlots(t *testing.T) {
	needTool(t, "unsquashfs", "squashfs-tools")
	sq := testSquashfs(t)
	img, l := write(t, smallOptions(t, sq))
	osA, osB := l.mustPartition("OS-A"), l.mustPartition("OS-B")

	want := mustRead(t, sq)
	if got := readAt(t, img, osA.Start, len(want)); !bytes.Equal(got, want) {
		t.Errorf("OS-A does not start with the squashfs bytes")
	}
	if rest := readAt(t, img, osA.Start+int64(len(want)), int(osA.Size)-len(want)); !allZero(rest) {
		t.Errorf("OS-A after the squashfs is not zero")
	}
	part := extract(t, img, osA.Start, osA.Size)
	if out := run(t, "unsquashfs", "-s", part); !strings.Contains(out, "Found a valid SQUASHFS 4:0 superblock") {
		t.Errorf("unsquashfs -s on OS-A:\n%s", out)
	}
	if out := run(t, "unsquashfs", "-l", part); !strings.Contains(out, "squashfs-root/etc/os-release") {
		t.Errorf("unsquashfs -l on OS-A does not list etc/os-release:\n%s", out)
	}
	if b := readAt(t, img, osB.Start, int(osB.Size)); !allZero(b) {
		t.Errorf("OS-B is not all zeros")
	}
}

func TestWriteState(t *testing.T) {
	needTool(t, "e2fsck", "e2fsprogs")
	img, l := write(t, smallOptions(t, testSquashfs(t)))
	state := l.mustPartition("STATE")
	onImage := img + "?offset=" + strconv.FormatInt(state.Start, 10)

	run(t, "e2fsck", "-fn", onImage) // fails the test on any problem (non-zero exit)

	cmd := exec.Command("dumpe2fs", "-h", onImage)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Filesystem volume name:   STATE\n",
		"Filesystem UUID:          " + state.FilesystemID + "\n",
		"Directory Hash Seed:      " + derivedUUID("site-test", idExt4Hash).String() + "\n",
		"Filesystem created:       Tue Nov 14 22:13:20 2023\n",
		"Last write time:          Tue Nov 14 22:13:20 2023\n",
		"Block size:               4096\n",
		"Block count:              " + strconv.FormatInt(state.Size/4096, 10) + "\n",
		"Filesystem features:      has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg " +
			"sparse_super large_file huge_file dir_nlink extra_isize metadata_csum\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dumpe2fs -h: missing %q", want)
		}
	}
	if t.Failed() {
		t.Logf("dumpe2fs -h:\n%s", out)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
