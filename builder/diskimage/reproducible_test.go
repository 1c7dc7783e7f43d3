package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func fileSHA256(t *testing.T, path string) [32]byte {
	t.Helper()
	return sha256.Sum256(mustRead(t, path))
}

func TestWriteIsReproducible(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	img1, l1 := write(t, opts)
	// A clock or SOURCE_DATE_EPOCH leaking into the image would differ here:
	// the second write sees another epoch, and ModTime is years ago.
	t.Setenv("SOURCE_DATE_EPOCH", "1234567890")
	img2, l2 := write(t, opts)
	if fileSHA256(t, img1) != fileSHA256(t, img2) {
		t.Errorf("two writes with the same options differ")
	}
	if !reflect.DeepEqual(l1, l2) {
		t.Errorf("layouts differ:\n%+v\n%+v", l1, l2)
	}

	// Reordering the ESP files does not change the image.
	reordered := opts
	reordered.ESPFiles = append([]File(nil), opts.ESPFiles...)
	slices.Reverse(reordered.ESPFiles)
	img3, _ := write(t, reordered)
	if fileSHA256(t, img1) != fileSHA256(t, img3) {
		t.Errorf("reordering ESPFiles changed the image")
	}
}

func TestWriteSeedChangesEveryID(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	img1, l1 := write(t, opts)
	opts.Seed = "another-site"
	img2, l2 := write(t, opts)
	if l1.DiskGUID == l2.DiskGUID {
		t.Errorf("disk GUID %s is the same for two seeds", l1.DiskGUID)
	}
	for i := range l1.Partitions {
		p1, p2 := l1.Partitions[i], l2.Partitions[i]
		if p1.UniqueGUID == p2.UniqueGUID {
			t.Errorf("%s GUID %s is the same for two seeds", p1.Label, p1.UniqueGUID)
		}
		if p1.FilesystemID != "" && p1.FilesystemID == p2.FilesystemID {
			t.Errorf("%s filesystem ID %s is the same for two seeds", p1.Label, p1.FilesystemID)
		}
		if p1.Start != p2.Start || p1.Size != p2.Size {
			t.Errorf("%s moved: %d+%d vs %d+%d", p1.Label, p1.Start, p1.Size, p2.Start, p2.Size)
		}
	}
	// The IDs on disk follow: the primary GPT header (LBA 1) holds the disk GUID.
	if bytes.Equal(readAt(t, img1, 512, 512), readAt(t, img2, 512, 512)) {
		t.Errorf("GPT headers are identical for two seeds")
	}
}

func TestWriteDefaultsIsSparse(t *testing.T) {
	needTool(t, "fsck.fat", "dosfstools")
	needTool(t, "e2fsck", "e2fsprogs")
	files, _ := testESPFiles(t)
	img, l := write(t, Options{Seed: "s", OSImage: testSquashfs(t), ModTime: testModTime, ESPFiles: files})
	wantSizes := []int64{DefaultESPSize, MinDefaultOSSlotSize, MinDefaultOSSlotSize, SecretsSize, DefaultMinStateSize}
	for i, p := range l.Partitions {
		if p.Size != wantSizes[i] {
			t.Errorf("%s size %d MiB, want %d MiB", p.Label, p.Size/MiB, wantSizes[i]/MiB)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(img, &st); err != nil {
		t.Fatal(err)
	}
	// Written: the FATs (2 x 2 MiB), 1 MiB of ESP files, the squashfs, ext4
	// metadata; not the 2.8 GiB of zeros.
	if allocated := st.Blocks * 512; allocated > 16*MiB {
		t.Errorf("image of %d MiB has %d MiB allocated, want at most 16 MiB", st.Size/MiB, allocated/MiB)
	}
	espPart := l.mustPartition("ESP")
	esp := extract(t, img, espPart.Start, espPart.Size)
	if out := run(t, "fsck.fat", "-n", esp); len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("fsck.fat -n on the 256 MiB ESP found problems:\n%s", out)
	}
	run(t, "e2fsck", "-fn", img+"?offset="+strconv.FormatInt(l.mustPartition("STATE").Start, 10))
}

func TestWriteOptionErrors(t *testing.T) {
	sq := testSquashfs(t)
	notSquashfs := filepath.Join(t.TempDir(), "os.img")
	writeFile(t, notSquashfs, []byte("not a squashfs"))
	valid := smallOptions(t, sq)
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no seed, image or time", func(o *Options) { o.Seed, o.OSImage, o.ModTime = "", "", time.Time{} }, "missing Seed\nmissing OSImage\nmissing ModTime"},
		{"ESP file without content", func(o *Options) { o.ESPFiles = []File{{Path: "a"}} }, "ESPFiles[0] a: set exactly one of Source and Data"},
		{"ESP file with two contents", func(o *Options) { o.ESPFiles = []File{{Path: "a", Source: sq, Data: []byte("x")}} }, "ESPFiles[0] a: set exactly one of Source and Data"},
		{"ESP file without path", func(o *Options) { o.ESPFiles = []File{{Path: "/", Data: []byte("x")}} }, "ESPFiles[0]: Path is empty"},
		{"ESP paths equal but for case", func(o *Options) {
			o.ESPFiles = []File{{Path: "EFI/a", Data: []byte("x")}, {Path: "/efi/A", Data: []byte("y")}}
		}, "ESPFiles[1] /efi/A: path given twice (FAT names ignore case)"},
		{"missing ESP source", func(o *Options) { o.ESPFiles = []File{{Path: "a", Source: "/nonexistent/x"}} },
			"write disk image DISK: partition ESP: open ESP file source: open /nonexistent/x: no such file or directory"},
		{"ESP files larger than the ESP", func(o *Options) { o.ESPFiles = []File{{Path: "big", Data: make([]byte, 70*MiB)}} },
			"write disk image DISK: partition ESP: write ESP file /big: unable to allocate clusters for file: no space left on device"},
		{"not a squashfs", func(o *Options) { o.OSImage = notSquashfs }, "OS image " + notSquashfs + ` is not a squashfs image (no "hsqs" magic)`},
		{"missing OS image", func(o *Options) { o.OSImage = "/nonexistent/os.sqfs" }, "open OS image: open /nonexistent/os.sqfs: no such file or directory"},
		{"disk too small", func(o *Options) { o.Size = 100 * MiB }, "disk size 104857600 bytes is too small: the layout needs at least 154140672 bytes " +
			"(147 MiB: ESP 64 MiB, OS-A and OS-B 8 MiB each, SECRETS 1 MiB, STATE at least 64 MiB, 2 MiB for the GPT)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid
			tt.change(&opts)
			img := filepath.Join(t.TempDir(), "disk.img")
			_, err := Write(context.Background(), img, opts)
			want := strings.ReplaceAll(tt.want, "DISK", img)
			if err == nil || err.Error() != want {
				t.Fatalf("Write error:\n got %v\nwant %s", err, want)
			}
			if !strings.HasPrefix(want, "write disk image") {
				if _, err := os.Stat(img); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a rejected Write created %s (stat: %v)", img, err)
				}
			}
		})
	}
}

func TestWriteHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Write(ctx, filepath.Join(t.TempDir(), "disk.img"), smallOptions(t, testSquashfs(t)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context: %v, want context.Canceled", err)
	}
}
