package diskimage

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteFATImageHoldsTheFilesReproducibly(t *testing.T) {
	needTool(t, "fsck.fat", "dosfstools")
	needTool(t, "mtype", "mtools")
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	big := bytes.Repeat([]byte("kernel!"), 10<<20/7) // 10 MiB, a file of realistic size
	writeFile(t, kernel, big)
	opts := FATImageOptions{
		Label: "EFIBOOT", Seed: "lab", ModTime: time.Unix(1764000000, 0),
		Files: []File{
			{Path: "loader/entries/live.conf", Data: []byte("title live\n")},
			{Path: "EFI/BOOT/BOOTX64.EFI", Data: bootloaderBytes()},
			{Path: "live/vmlinuz", Source: kernel},
		},
	}
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	size, err := WriteFATImage(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	if size != ESPSizeFloor {
		t.Errorf("size %d for 10 MiB of files, want the FAT32 floor %d", size, ESPSizeFloor)
	}
	if fi, err := os.Stat(a); err != nil || fi.Size() != size {
		t.Fatalf("image is %v (%v), want %d bytes", fi, err, size)
	}
	run(t, "fsck.fat", "-n", a)
	if got := run(t, "mtype", "-i", a, "::/loader/entries/live.conf"); got != "title live\n" {
		t.Errorf("live.conf = %q", got)
	}
	if got := run(t, "mtype", "-i", a, "::/live/vmlinuz"); got != string(big) {
		t.Errorf("vmlinuz: %d bytes differ from the source's %d", len(got), len(big))
	}
	if _, err := WriteFATImage(b, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, a), mustRead(t, b)) {
		t.Error("two FAT images of the same files differ")
	}

	// Larger content grows the image beyond the floor.
	opts.Files = append(opts.Files, File{Path: "live/initrd", Data: make([]byte, 70<<20)})
	size, err = WriteFATImage(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	if size < 80<<20 || size%MiB != 0 {
		t.Errorf("size %d for 80 MiB of files, want at least that, in whole MiB", size)
	}
	run(t, "fsck.fat", "-n", b)
}
