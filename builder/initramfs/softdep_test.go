package initramfs

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ml-appliance/appliance/builder/kernel"
)

// TestSoftDependenciesAreLoadedFirst mirrors Debian's ext4: its
// modules.softdep asks for "crypto-crc32c", an alias that two modules
// provide; without them ext4 cannot mount a filesystem with metadata
// checksums ("Cannot load crc32c driver"), since the initramfs has no
// modprobe to load them on request.
func TestSoftDependenciesAreLoadedFirst(t *testing.T) {
	dir := "usr/lib/modules/" + testVersion + "/"
	fsys := fstest.MapFS{
		"boot/vmlinuz-" + testVersion:           {Data: []byte("kernel")},
		dir + "kernel/fs/ext4/ext4.ko":          {Data: fakeModule("ext4", "jbd2")},
		dir + "kernel/fs/jbd2/jbd2.ko":          {Data: fakeModule("jbd2")},
		dir + "kernel/crypto/crc32c_generic.ko": {Data: fakeModule("crc32c_generic")},
		dir + "kernel/arch/x86/crc32c-intel.ko": {Data: fakeModule("crc32c_intel")},
		dir + "kernel/lib/libcrc32c.ko":         {Data: fakeModule("libcrc32c")},
		dir + "modules.dep": {Data: []byte("kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n" +
			"kernel/fs/jbd2/jbd2.ko:\nkernel/crypto/crc32c_generic.ko:\nkernel/arch/x86/crc32c-intel.ko:\nkernel/lib/libcrc32c.ko:\n")},
		dir + "modules.alias": {Data: []byte("alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_intel\n" +
			"alias crc32c crc32c_generic\nalias pci:v00008086d* crc32c_intel\n")},
		dir + "modules.softdep": {Data: []byte("# Soft dependencies extracted from modules themselves.\n" +
			"softdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c post: libcrc32c\n" +
			"softdep libcrc32c pre: crc32c\nsoftdep crc32c_generic pre: no-such-alias\n")},
	}
	k, err := kernel.Find(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Build(&out, Options{Init: writeInit(t), Kernel: k, Modules: []string{"ext4"}}); err != nil {
		t.Fatal(err)
	}
	_, contents := readArchive(t, out.Bytes())
	m := "/lib/modules/" + testVersion + "/kernel/"
	want := strings.Join([]string{
		m + "crypto/crc32c_generic.ko",
		m + "arch/x86/crc32c-intel.ko",
		m + "fs/jbd2/jbd2.ko",
		m + "fs/ext4/ext4.ko",
	}, "\n") + "\n"
	if got := contents["etc/appliance/modules.order"]; got != want {
		t.Errorf("modules.order =\n%s\nwant\n%s", got, want)
	}
	// "post:" soft dependencies are not needed before the module loads.
	if _, ok := contents["lib/modules/"+testVersion+"/kernel/lib/libcrc32c.ko"]; ok {
		t.Error("post: soft dependency libcrc32c was packed")
	}
}
