package osimage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/rootfs"
)

var modTime = time.Unix(1700000000, 0).UTC()

// capNetRaw is security.capability for cap_net_raw=ep, as on Debian's ping.
const capNetRaw = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// smallTree is a tree with each kind of entry the OS image must keep.
func smallTree(t *testing.T) *rootfs.Tree {
	t.Helper()
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { tree.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tree.AddFile("etc/hostname", 0o644, []byte("node\n"), rootfs.FileOptions{}))
	must(tree.AddFile("usr/lib/os-release", 0o644, []byte("ID=debian\n"), rootfs.FileOptions{}))
	must(tree.AddFile("home/user/.profile", 0o600, []byte("x"), rootfs.FileOptions{UID: 1000, GID: 1000}))
	must(tree.AddSymlink("lib", "usr/lib", rootfs.FileOptions{}))
	must(tree.AddFile("usr/bin/big", 0o755, bytes.Repeat([]byte("appliance "), 50000), rootfs.FileOptions{}))
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	must(tw.WriteHeader(&tar.Header{Name: "usr/bin/ping", Typeflag: tar.TypeReg, Mode: 0o755, Size: 3,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": capNetRaw}}))
	_, err := tw.Write([]byte("elf"))
	must(err)
	must(tw.Close())
	must(tree.AddTar(&layer, "caps"))
	return tree
}

func build(t *testing.T, out string, opts Options) {
	t.Helper()
	if err := BuildFromTree(context.Background(), out, smallTree(t), opts); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestBuildMakesExpectedImage(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "5") // must not leak into the image
	out := filepath.Join(t.TempDir(), "os.sqfs")
	build(t, out, Options{ModTime: modTime})

	listing := run(t, "unsquashfs", "-lln", out)
	for _, want := range []string{
		"-rw-r--r-- 0/0                       5 2023-11-14 22:13 squashfs-root/etc/hostname\n",
		"-rw------- 1000/1000                 1 2023-11-14 22:13 squashfs-root/home/user/.profile\n",
		"lrwxrwxrwx 0/0                       7 2023-11-14 22:13 squashfs-root/lib -> usr/lib\n",
		"-rwxr-xr-x 0/0                  500000 2023-11-14 22:13 squashfs-root/usr/bin/big\n",
		"squashfs-root/usr/lib/os-release\n",
	} {
		if !strings.Contains(listing, want) {
			t.Errorf("unsquashfs -lln lacks %q:\n%s", want, listing)
		}
	}
	// Back to tar with squashfs-tools-ng's own reader: the capability survives.
	back, err := exec.Command("sqfs2tar", out).Output()
	if err != nil {
		t.Fatalf("sqfs2tar: %v", err)
	}
	tr := tar.NewReader(bytes.NewReader(back))
	var capability string
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if hdr.Name == "usr/bin/ping" {
			capability = hdr.PAXRecords["SCHILY.xattr.security.capability"]
		}
	}
	if capability != capNetRaw {
		t.Errorf("usr/bin/ping security.capability = %q, want %q", capability, capNetRaw)
	}
	super := run(t, "unsquashfs", "-s", out)
	if !strings.Contains(super, "Compression zstd\n") {
		t.Errorf("unsquashfs -s: want zstd:\n%s", super)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if mtime := binary.LittleEndian.Uint32(raw[8:12]); int64(mtime) != modTime.Unix() {
		t.Errorf("superblock modification_time = %d, want %d", mtime, modTime.Unix())
	}
}

func TestBuildIsReproducible(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.sqfs"), filepath.Join(dir, "b.sqfs")
	build(t, a, Options{ModTime: modTime, Jobs: 1})
	time.Sleep(1100 * time.Millisecond) // a clock-derived time would differ now
	build(t, b, Options{ModTime: modTime, Jobs: 2})
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Fatalf("two builds differ: %d vs %d bytes", len(da), len(db))
	}
}

func TestBuildXZ(t *testing.T) {
	out := filepath.Join(t.TempDir(), "os.sqfs")
	build(t, out, Options{ModTime: modTime, Compression: XZ})
	if super := run(t, "unsquashfs", "-s", out); !strings.Contains(super, "Compression xz\n") {
		t.Errorf("unsquashfs -s: want xz:\n%s", super)
	}
}

func TestBuildFailsCleanly(t *testing.T) {
	var good bytes.Buffer
	if err := smallTree(t).WriteTar(&good, rootfs.WriteOptions{ModTime: modTime}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stream []byte
		opts   Options
		want   string
	}{
		{"garbage", bytes.Repeat([]byte("not a tar "), 200), Options{ModTime: modTime},
			"read tar stream after 0 entries: archive/tar: invalid tar header"},
		{"truncated", good.Bytes()[:2000], Options{ModTime: modTime},
			"tar stream is truncated: no end-of-archive marker"},
		{"cut in a header", good.Bytes()[:1100], Options{ModTime: modTime},
			"read tar stream after 2 entries: unexpected EOF"},
		{"empty", make([]byte, 1024), Options{ModTime: modTime}, "tar stream has no entries"},
		{"no modtime", good.Bytes(), Options{}, "Options.ModTime is required"},
		{"bad compressor", good.Bytes(), Options{ModTime: modTime, Compression: "lzo"},
			`unsupported compression "lzo" (want zstd or xz)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "os.sqfs")
			err := Build(context.Background(), out, bytes.NewReader(tt.stream), tt.opts)
			if want := "build OS image " + out + ": " + tt.want; err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("files left behind: %v", left)
			}
		})
	}
}

// TestToolFailureReportsStderr runs a stand-in tar2sqfs that fails.
func TestToolFailureReportsStderr(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\ncat >/dev/null\necho 'fake tar2sqfs: out of space' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, "tar2sqfs"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	dir := t.TempDir()
	out := filepath.Join(dir, "os.sqfs")
	err := BuildFromTree(context.Background(), out, smallTree(t), Options{ModTime: modTime})
	want := "build OS image " + out + ": tar2sqfs: exit status 3: fake tar2sqfs: out of space"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

func TestHostTools(t *testing.T) {
	tools := HostTools()
	if len(tools) != 1 || tools[0].Command != "tar2sqfs" || tools[0].Package != "squashfs-tools-ng" {
		t.Errorf("HostTools() = %+v", tools)
	}
}
