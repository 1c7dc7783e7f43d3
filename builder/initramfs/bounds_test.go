package initramfs

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// TestModuleContentBounds: a module that decompresses past maxModule, or
// modules read past maxRead in all, are refused instead of read into
// memory whole. The bounds are scaled down; the code path is the real one.
func TestModuleContentBounds(t *testing.T) {
	k := testKernel(t, true)
	fsys := k.FS.(fstest.MapFS)
	fsys[k.ModulesDir+"/kernel/bomb.ko.xz"] = &fstest.MapFile{Data: xzBytes(t, bytes.Repeat([]byte{0}, 1<<20))}
	idx, err := newModuleIndex(k)
	if err != nil {
		t.Fatal(err)
	}
	idx.maxModule = 64 << 10
	_, err = idx.content("bomb")
	want := "module usr/lib/modules/6.1.0-test/kernel/bomb.ko.xz: more than 65536 bytes decompressed"
	if err == nil || err.Error() != want {
		t.Errorf("content(bomb) error = %v, want %s", err, want)
	}

	overlay, err := idx.content("overlay")
	if err != nil {
		t.Fatal(err)
	}
	idx.read, idx.maxRead = 0, int64(len(overlay))*3/2
	if _, err := idx.content("overlay"); err != nil {
		t.Fatalf("first read within maxRead: %v", err)
	}
	_, err = idx.content("overlay")
	if err == nil || !strings.HasSuffix(err.Error(), "overlay.ko: the modules read reach more than "+strconv.FormatInt(idx.maxRead, 10)+" bytes decompressed") {
		t.Errorf("second read past maxRead: error = %v", err)
	}
}
