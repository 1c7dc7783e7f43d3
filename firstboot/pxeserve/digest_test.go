package pxeserve

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// TestRuntimeScriptTakesOnlyADigest: the value filled into the workers'
// boot script lands on their kernel command line; anything but 64 hex
// digits is refused and no script is written.
func TestRuntimeScriptTakesOnlyADigest(t *testing.T) {
	bundle := t.TempDir()
	tmpl := "#!ipxe\nkernel vmlinuz appliance.os.sha256=" + payload.PXEOSDigest + " quiet\n"
	if err := os.WriteFile(filepath.Join(bundle, payload.PXEScriptTemplate), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, digest := range []string{"0 init=/bin/sh", strings.Repeat("0", 63) + "\n", "${password}", strings.Repeat("A", 64)} {
		runtime := filepath.Join(t.TempDir(), "run")
		p := &Prepared{opts: Options{BundleDir: bundle, RuntimeDir: runtime}, Digest: digest}
		err := p.writeRuntimeDir()
		if err == nil || !strings.Contains(err.Error(), "want 64 lower-case hex digits") {
			t.Errorf("digest %q: %v, want a refusal", digest, err)
		}
		if _, err := os.Stat(filepath.Join(runtime, bootparam.PXEBootScript)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("digest %q: %s written (%v)", digest, bootparam.PXEBootScript, err)
		}
	}
	runtime := filepath.Join(t.TempDir(), "run")
	good := strings.Repeat("0a", 32)
	p := &Prepared{opts: Options{BundleDir: bundle, RuntimeDir: runtime}, Digest: good}
	if err := p.writeRuntimeDir(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(runtime, bootparam.PXEBootScript))
	if err != nil || string(b) != strings.Replace(tmpl, payload.PXEOSDigest, good, 1) {
		t.Errorf("boot script %q, %v", b, err)
	}
}
