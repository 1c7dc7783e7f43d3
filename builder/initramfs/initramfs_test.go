package initramfs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ml-appliance/appliance/builder/kernel"
)

const testVersion = "6.1.0-test"

func xzBytes(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func zstdBytes(t *testing.T, data []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

// testKernel is a small module tree: overlay needs nothing, virtio_blk needs
// virtio_ring (via virtio), ext4 and crc32c are built in, dm-crypt (a
// hyphenated file name) needs dm_mod. With withDep it has a modules.dep.
func testKernel(t *testing.T, withDep bool) kernel.Kernel {
	dir := "usr/lib/modules/" + testVersion + "/"
	fsys := fstest.MapFS{
		"boot/vmlinuz-" + testVersion:                    {Data: []byte("kernel")},
		dir + "kernel/fs/overlayfs/overlay.ko":           {Data: fakeModule("overlay")},
		dir + "kernel/drivers/block/virtio_blk.ko.xz":    {Data: xzBytes(t, fakeModule("virtio_blk", "virtio", "virtio_ring"))},
		dir + "kernel/drivers/virtio/virtio.ko":          {Data: fakeModule("virtio", "virtio_ring")},
		dir + "kernel/drivers/virtio/virtio_ring.ko.zst": {Data: zstdBytes(t, fakeModule("virtio_ring"))},
		dir + "kernel/drivers/md/dm-crypt.ko":            {Data: fakeModule("dm_crypt", "dm-mod", "crc32c")},
		dir + "kernel/drivers/md/dm-mod.ko":              {Data: fakeModule("dm_mod")},
		dir + "modules.builtin":                          {Data: []byte("kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c.ko\n")},
	}
	if withDep {
		fsys[dir+"modules.dep"] = &fstest.MapFile{Data: []byte(strings.Join([]string{
			"kernel/fs/overlayfs/overlay.ko:",
			"kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko.zst",
			"kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko.zst",
			"kernel/drivers/virtio/virtio_ring.ko.zst:",
			"kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko",
			"kernel/drivers/md/dm-mod.ko:",
		}, "\n") + "\n")}
	}
	k, err := kernel.Find(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeInit(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "init")
	if err := os.WriteFile(p, []byte("#!fake init, a test double\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readArchive returns each entry's header and content from a gzip cpio.
func readArchive(t *testing.T, data []byte) ([]*cpio.Header, map[string]string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(zr)
	var hdrs []*cpio.Header
	contents := map[string]string{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r)
		hdrs = append(hdrs, h)
		contents[h.Name] = string(body)
	}
	return hdrs, contents
}

func TestModuleOrder(t *testing.T) {
	for _, withDep := range []bool{true, false} {
		name := "modules.dep"
		if !withDep {
			name = "modinfo"
		}
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := Build(&out, Options{
				Init:    writeInit(t),
				Kernel:  testKernel(t, withDep),
				Modules: []string{"dm_crypt", "virtio-blk", "ext4", "overlay", "virtio_ring"},
			})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			_, contents := readArchive(t, out.Bytes())
			m := "/lib/modules/" + testVersion + "/kernel/"
			want := strings.Join([]string{
				m + "drivers/md/dm-mod.ko",
				m + "drivers/md/dm-crypt.ko",
				m + "drivers/virtio/virtio_ring.ko",
				m + "drivers/virtio/virtio.ko",
				m + "drivers/block/virtio_blk.ko",
				m + "fs/overlayfs/overlay.ko",
			}, "\n") + "\n"
			if got := contents["etc/appliance/modules.order"]; got != want {
				t.Errorf("modules.order =\n%s\nwant\n%s", got, want)
			}
			// Compressed modules are packed decompressed.
			if got := contents["lib/modules/"+testVersion+"/kernel/drivers/virtio/virtio_ring.ko"]; got != string(fakeModule("virtio_ring")) {
				t.Errorf("virtio_ring.ko not decompressed: %q", got)
			}
			if _, ok := contents["lib/modules/"+testVersion+"/kernel/fs/ext4/ext4.ko"]; ok {
				t.Error("built-in ext4 was packed")
			}
		})
	}
}

func TestUnknownModule(t *testing.T) {
	err := Build(io.Discard, Options{
		Init:    writeInit(t),
		Kernel:  testKernel(t, false),
		Modules: []string{"overlay", "nvme", "ahci", "ext4"},
	})
	want := "initramfs: kernel 6.1.0-test has neither a module file nor a built-in for: ahci, nvme"
	if err == nil || err.Error() != want {
		t.Fatalf("Build() error = %v, want %q", err, want)
	}
}

func TestBuildReproducibleAndListedByCpio(t *testing.T) {
	opts := Options{
		Init:    writeInit(t),
		Kernel:  testKernel(t, true),
		Modules: []string{"virtio_blk", "ext4"},
		ModTime: time.Unix(1700000000, 0),
	}
	var a, b bytes.Buffer
	if err := Build(&a, opts); err != nil {
		t.Fatal(err)
	}
	// A fresh tree from the same inputs must give the same bytes.
	opts.Kernel = testKernel(t, true)
	if err := Build(&b, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two builds from the same inputs differ")
	}
	hdrs, _ := readArchive(t, a.Bytes())
	for _, h := range hdrs {
		if h.Uid != 0 || h.Guid != 0 || !h.ModTime.Equal(opts.ModTime) {
			t.Errorf("%s: uid %d gid %d mtime %v", h.Name, h.Uid, h.Guid, h.ModTime)
		}
		if h.Name == "init" && h.Mode.Perm() != 0o755 {
			t.Errorf("init mode %o, want 755", h.Mode.Perm())
		}
	}

	zr, _ := gzip.NewReader(bytes.NewReader(a.Bytes()))
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = zr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	m := "lib/modules/" + testVersion
	want := strings.Join([]string{
		"etc", "etc/appliance", "etc/appliance/modules.order", "init",
		"lib", "lib/modules", m, m + "/kernel", m + "/kernel/drivers",
		m + "/kernel/drivers/block", m + "/kernel/drivers/block/virtio_blk.ko",
		m + "/kernel/drivers/virtio", m + "/kernel/drivers/virtio/virtio.ko",
		m + "/kernel/drivers/virtio/virtio_ring.ko",
	}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("cpio -t lists\n%s\nwant\n%s", out, want)
	}
}

func TestCompressions(t *testing.T) {
	magic := map[Compression][]byte{
		"":   {0x1f, 0x8b},
		Gzip: {0x1f, 0x8b},
		Zstd: {0x28, 0xb5, 0x2f, 0xfd},
		None: []byte("070701"),
	}
	for c, want := range magic {
		var out bytes.Buffer
		if err := Build(&out, Options{Init: writeInit(t), Modules: []string{}, Compression: c}); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if !bytes.HasPrefix(out.Bytes(), want) {
			t.Errorf("compression %q: archive starts % x, want % x", c, out.Bytes()[:8], want)
		}
	}
	err := Build(io.Discard, Options{Init: writeInit(t), Modules: []string{}, Compression: "lz4"})
	if want := `initramfs: unknown compression "lz4" (want gzip, zstd or none)`; err == nil || err.Error() != want {
		t.Errorf("lz4: error %v, want %q", err, want)
	}
}

func TestAvailableSplitsPresentAndAbsent(t *testing.T) {
	k := testKernel(t, true)
	// ext4 is built in, dm-crypt a module spelled with "-", ahci absent.
	present, absent, err := Available(k, []string{"ext4", "ahci", "dm-crypt", "virtio_blk"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(present, ",") != "ext4,dm-crypt,virtio_blk" || strings.Join(absent, ",") != "ahci" {
		t.Fatalf("present %v absent %v", present, absent)
	}
}
