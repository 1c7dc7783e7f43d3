package diskimage

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// testPayload writes a small OCI-layout-shaped tar (oci-layout, index.json
// and one blob of blobSize pseudo-random bytes) and returns its path and
// bytes. Its size is no multiple of a MiB, so PAYLOAD has padding.
func testPayload(t *testing.T, blobSize int) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", []byte(`{"schemaVersion":2,"manifests":[]}`)},
		{"blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000", pseudoRandom(blobSize)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "payload.tar")
	writeFile(t, p, buf.Bytes())
	return p, buf.Bytes()
}

// pseudoRandom is n bytes that do not repeat, so a misplaced block shows.
func pseudoRandom(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 14))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// With a payload, PAYLOAD comes between SECRETS and STATE: its own type
// GUID, read-only attribute, the tar's size rounded up to MiB, the tar's
// bytes followed by zeros that are a hole in the image file; STATE is
// still last and still a clean ext4.
func TestWritePayloadPartition(t *testing.T) {
	needTool(t, "sgdisk", "gdisk")
	needTool(t, "e2fsck", "e2fsprogs")
	opts := smallOptions(t, testSquashfs(t))
	var tarBytes []byte
	opts.Payload, tarBytes = testPayload(t, 1<<20+4321)
	img, l := write(t, opts)

	if out := run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found.") {
		t.Errorf("sgdisk -v found problems:\n%s", out)
	}
	want := []struct {
		label, typeGUID, attrs string
		start, size            int64
	}{
		{"ESP", TypeEFISystem, "0000000000000000", MiB, 64 * MiB},
		{"OS-A", TypeLinuxFilesystem, "0000000000000000", 65 * MiB, 8 * MiB},
		{"OS-B", TypeLinuxFilesystem, "0000000000000000", 73 * MiB, 8 * MiB},
		{"SECRETS", TypeLinuxFilesystem, "0000000000000000", 81 * MiB, MiB},
		{"PAYLOAD", TypePayload, "1000000000000000", 82 * MiB, 2 * MiB},
		{"STATE", TypeLinuxFilesystem, "0000000000000000", 84 * MiB, 64 * MiB},
	}
	if l.Size != 149*MiB || len(l.Partitions) != len(want) {
		t.Fatalf("layout of %d bytes with %d partitions, want 149 MiB and %d", l.Size, len(l.Partitions), len(want))
	}
	attrs := regexp.MustCompile(`Attribute flags: ([0-9a-f]{16})`)
	for i, w := range want {
		p := l.Partitions[i]
		// The GPT as sgdisk reads it back from the file.
		out := run(t, "sgdisk", "-i", strconv.Itoa(i+1), img)
		m, a := sgdiskInfo.FindStringSubmatch(out), attrs.FindStringSubmatch(out)
		if m == nil || a == nil {
			t.Fatalf("sgdisk -i %d: output not understood:\n%s", i+1, out)
		}
		first, _ := strconv.ParseInt(m[3], 10, 64)
		last, _ := strconv.ParseInt(m[4], 10, 64)
		got := [6]string{m[1], m[2], m[5], a[1], strconv.FormatInt(first*512, 10), strconv.FormatInt((last+1-first)*512, 10)}
		exp := [6]string{w.typeGUID, p.UniqueGUID, w.label, w.attrs, strconv.FormatInt(w.start, 10), strconv.FormatInt(w.size, 10)}
		if got != exp {
			t.Errorf("sgdisk -i %d: (type, unique GUID, name, attributes, start, size) = %q, want %q", i+1, got, exp)
		}
		if p.Number != i+1 || p.Label != w.label || p.Start != w.start || p.Size != w.size {
			t.Errorf("layout partition %d = %+v, want %+v", i+1, p, w)
		}
	}

	payload := l.mustPartition("PAYLOAD")
	part := readAt(t, img, payload.Start, int(payload.Size))
	if !bytes.Equal(part[:len(tarBytes)], tarBytes) {
		t.Errorf("PAYLOAD does not start with the payload's bytes")
	}
	if !allZero(part[len(tarBytes):]) {
		t.Errorf("PAYLOAD is not zeros after the payload")
	}
	// The padding was not written: past the tar's last filesystem block,
	// the next data in the file is STATE's.
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	padding := alignUp(payload.Start+int64(len(tarBytes)), st.Blksize)
	if next, err := unix.Seek(int(f.Fd()), padding, unix.SEEK_DATA); err != nil || next < payload.Start+payload.Size {
		t.Errorf("data at %d (%v) in PAYLOAD's padding [%d, %d): want a hole", next, err, padding, payload.Start+payload.Size)
	}

	state := l.mustPartition("STATE")
	run(t, "e2fsck", "-fn", img+"?offset="+strconv.FormatInt(state.Start, 10))

	img2, l2 := write(t, opts)
	if fileSHA256(t, img) != fileSHA256(t, img2) || l2.mustPartition("PAYLOAD") != payload {
		t.Errorf("two writes with the same payload differ")
	}
}

// The ESP and STATE images of the installer's layout are the raw image's
// with a payload too, and both layouts carry PAYLOAD.
func TestWritePartsWithPayload(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	opts.Payload, _ = testPayload(t, 3<<20)
	dir := t.TempDir()
	raw, err := Write(context.Background(), filepath.Join(dir, "disk.raw"), opts)
	if err != nil {
		t.Fatal(err)
	}
	files := PartFiles{ESP: filepath.Join(dir, "esp.img"), State: filepath.Join(dir, "state.img")}
	parts, err := WriteParts(context.Background(), files, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Partitions) != len(raw.Partitions) {
		t.Fatalf("WriteParts layout %+v, raw %+v", parts, raw)
	}
	for i := range raw.Partitions {
		if parts.Partitions[i] != raw.Partitions[i] {
			t.Errorf("partition %d: %+v, raw image %+v", i+1, parts.Partitions[i], raw.Partitions[i])
		}
	}
	if p, ok := parts.Partition("PAYLOAD"); !ok || p.Size != 4*MiB || p.Attributes != AttrReadOnly {
		t.Errorf("WriteParts' PAYLOAD %+v (%v), want 4 MiB, read-only", p, ok)
	}
	for path, label := range map[string]string{files.ESP: "ESP", files.State: "STATE"} {
		p := raw.mustPartition(label)
		if !bytes.Equal(mustRead(t, path), readAt(t, filepath.Join(dir, "disk.raw"), p.Start, int(p.Size))) {
			t.Errorf("%s differs from partition %s of the raw image", filepath.Base(path), label)
		}
	}
}

func TestWritePayloadErrors(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "not.tar")
	writeFile(t, notTar, bytes.Repeat([]byte("x"), 1024))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big, _ := testPayload(t, 1<<20)
	valid := smallOptions(t, testSquashfs(t))
	for _, c := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"not a tar", func(o *Options) { o.Payload = notTar }, "image payload " + notTar + ` is not a tar archive (no "ustar" magic)`},
		// Refused at once, not waited on for a writer.
		{"a FIFO", func(o *Options) { o.Payload = fifo }, "image payload " + fifo + " is a named pipe (FIFO), not a regular file"},
		{"a directory", func(o *Options) { o.Payload = dir }, "image payload " + dir + " is a directory, not a regular file"},
		{"missing", func(o *Options) { o.Payload = "/nonexistent/payload.tar" }, "open image payload: open /nonexistent/payload.tar: no such file or directory"},
		{"disk too small for it", func(o *Options) { o.Payload, o.Size = big, 147*MiB },
			"disk size 154140672 bytes is too small: the layout needs at least 156237824 bytes (149 MiB: ESP 64 MiB, OS-A and OS-B 8 MiB each, " +
				"SECRETS 1 MiB, PAYLOAD 2 MiB (the image payload of 1052160 bytes), STATE at least 64 MiB, 2 MiB for the GPT)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := valid
			c.change(&opts)
			_, err := Write(context.Background(), filepath.Join(t.TempDir(), "disk.img"), opts)
			if err == nil || err.Error() != c.want {
				t.Errorf("Write error:\n got %v\nwant %s", err, c.want)
			}
		})
	}
}
