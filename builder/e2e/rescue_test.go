package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// TestRescueShellStartsWhenBootFails builds with os.initramfs.rescueShell,
// boots the kernel and initramfs with no disk at all, so the init cannot
// find its OS image, and types into the shell it must then offer.
func TestRescueShellStartsWhenBootFails(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	t.Parallel()
	work := t.TempDir()
	cloud := withCloudKernel(t)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		cloud(doc)
		doc["os"].(map[string]any)["initramfs"] = map[string]any{"rescueShell": true}
	})
	out := filepath.Join(work, "out")
	build(t, config, out)

	esp := extract(t, filepath.Join(out, "single-node.raw"), partition(t, out, bootparam.LabelESP), filepath.Join(work, "esp.img"))
	if entry := run(t, "mtype", "-i", esp, "::/loader/entries/appliance-a.conf"); !strings.Contains(entry, " appliance.rescue=1") {
		t.Fatalf("slot A's loader entry lacks appliance.rescue=1:\n%s", entry)
	}
	vm, err := vmtest.Start(t.Context(), work, vmtest.Options{
		Kernel: filepath.Join(out, "single-node.vmlinuz"),
		Initrd: filepath.Join(out, "single-node.initrd"),
		// What the loader entry says, pointed at a disk that is not there.
		Append:  "appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.rescue=1 console=ttyS0,115200",
		Console: consoleLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	_, i := expect(t, vm, `^appliance-init: BOOT FAILED: OS image: .*PARTLABEL=OS-A`, 0, 3*time.Minute)
	_, i = expect(t, vm, `^appliance-init: starting rescue shell /bin/sh`, i, time.Minute)
	// The shell may still be starting: type until it answers.
	deadline := time.Now().Add(time.Minute)
	for {
		if err := vm.Send("echo rescue-$((6 * 7))\n"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := vm.Expect(regexpMust(`^rescue-42$`), i, 5*time.Second); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}
