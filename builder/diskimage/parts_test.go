package diskimage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The ESP and STATE images WriteParts makes are the bytes Write puts in
// those partitions of the smallest disk, and its layout is that disk's.
func TestWritePartsMatchesRawImage(t *testing.T) {
	opts := smallOptions(t, testSquashfs(t))
	dir := t.TempDir()
	rawPath := filepath.Join(dir, "disk.raw")
	rawLayout, err := Write(context.Background(), rawPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	files := PartFiles{ESP: filepath.Join(dir, "esp.img"), State: filepath.Join(dir, "state.img")}
	layout, err := WriteParts(context.Background(), files, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := layout.Size, rawLayout.Size; got != want {
		t.Errorf("layout size %d, raw image %d", got, want)
	}
	for i := range rawLayout.Partitions {
		if layout.Partitions[i] != rawLayout.Partitions[i] {
			t.Errorf("partition %d: %+v, raw image %+v", i+1, layout.Partitions[i], rawLayout.Partitions[i])
		}
	}
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		part Partition
	}{{files.ESP, rawLayout.mustPartition("ESP")}, {files.State, rawLayout.mustPartition("STATE")}} {
		img, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(img)) != c.part.Size {
			t.Errorf("%s: %d bytes, partition %s %d", c.path, len(img), c.part.Label, c.part.Size)
			continue
		}
		if !bytes.Equal(img, raw[c.part.Start:c.part.Start+c.part.Size]) {
			t.Errorf("%s differs from partition %s of the raw image", filepath.Base(c.path), c.part.Label)
		}
	}
}
