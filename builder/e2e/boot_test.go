package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/vmtest"
)

// Timeouts for a full Debian boot under TCG (no KVM): OVMF alone takes
// 8-12 s, systemd to firstboot another 20-60 s on a loaded 2-core machine.
const bootTimeout = 6 * time.Minute

// bootOptions boots disk under OVMF with one NIC whose MAC matches the
// site's inventory entry. restrict=on keeps user networking inside QEMU: the
// guest gets DHCP but can reach no address outside the VM.
func bootOptions(t *testing.T, disk, mac string) vmtest.Options {
	return vmtest.Options{
		UEFI: true, Disks: []string{disk}, MemoryMiB: 2048,
		Extra: []string{
			"-netdev", "user,id=n0,restrict=on",
			"-device", "virtio-net-pci,netdev=n0,mac=" + mac,
		},
		Console: consoleLog(t),
	}
}

// consoleLog records the console of each boot; when the test fails, its
// last lines go into the test's output (the temp dir is removed after).
func consoleLog(t *testing.T) *os.File {
	f, err := os.Create(filepath.Join(t.TempDir(), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if !t.Failed() {
			return
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return
		}
		lines := strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
		if len(lines) > 150 {
			lines = lines[len(lines)-150:]
		}
		t.Logf("last console lines of this boot:\n%s", strings.Join(lines, "\n"))
	})
	return f
}

// expect waits for a console line matching pattern after line from.
func expect(t *testing.T, vm *vmtest.VM, pattern string, from int, timeout time.Duration) (string, int) {
	t.Helper()
	line, i, err := vm.Expect(regexp.MustCompile(pattern), from, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return line, i
}

// TestSingleNodeBootsAndKeepsState builds configs/single-node.yaml with the
// cloud kernel, boots the raw disk under OVMF on a disk larger than the
// image (as a real disk is), and checks: the init grows STATE, firstboot
// decides the inventory's role and hostname and finishes; after a power cut
// the second boot skips what is done and still has the first boot's files.
// A second build into another directory must be byte-identical.
func TestSingleNodeBootsAndKeepsState(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	t.Parallel()
	work := t.TempDir()
	config := siteConfig(t, work, "single-node.yaml", withCloudKernel(t))
	out := filepath.Join(work, "a")
	build(t, config, out)
	raw := filepath.Join(out, "single-node.raw")
	checkRawImage(t, raw)
	// The cloud kernel replaced the base's: only its modules are in the image.
	listing := run(t, "unsquashfs", "-l", "-d", "", filepath.Join(out, "single-node.squashfs"))
	if !strings.Contains(listing, "-cloud-amd64/modules.dep\n") || strings.Contains(listing, "/boot/vmlinuz-") ||
		regexp.MustCompile(`/usr/lib/modules/[^/]*[0-9]-amd64/`).MatchString(listing) {
		t.Errorf("OS image should hold the cloud kernel's modules and none of the base kernel's")
	}

	disk := filepath.Join(work, "disk.raw")
	run(t, "cp", "--sparse=always", raw, disk)
	st, err := os.Stat(raw)
	if err != nil {
		t.Fatal(err)
	}
	grown := st.Size() + 2<<30
	if err := os.Truncate(disk, grown); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	vm, err := vmtest.Start(t.Context(), work, bootOptions(t, disk, "52:54:00:00:00:01"))
	if err != nil {
		t.Fatal(err)
	}
	// The options of slot A's loader entry, which loader.conf's
	// "default appliance-*" made systemd-boot take (firstboot/bootslot).
	expect(t, vm, `Command line: .*appliance\.os=PARTLABEL=OS-A appliance\.state=PARTLABEL=STATE appliance\.slot=a `, 0, bootTimeout)
	expect(t, vm, `^appliance-init: grew STATE`, 0, bootTimeout)
	line, _ := expect(t, vm, consoleLine+`firstboot: grow-state: \S+ is `, 0, bootTimeout)
	checkStateGrown(t, line, grown)
	expect(t, vm, consoleLine+`firstboot: role=server cluster-init \(.*inventory`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: first-boot: this is the first boot`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	t.Logf("first boot: firstboot done %.1fs after QEMU started", time.Since(start).Seconds())
	vm.Kill() // a power cut: firstboot's records must already be durable

	vm, err = vmtest.Start(t.Context(), work, bootOptions(t, disk, "52:54:00:00:00:01"))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, vm, consoleLine+`firstboot: decide-role: already done`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: grow-state: already done`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: first boot was `, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	for _, l := range vm.Lines() {
		if regexp.MustCompile(`^appliance-init: grew STATE|this is the first boot`).MatchString(l) {
			t.Errorf("second boot redid first-boot work: %q", l)
		}
	}
	vm.Kill()

	// Reproducibility: the same inputs give the same bytes (the same
	// secrets directory too: the image carries the site's upgrade bundle
	// signing key).
	out2 := filepath.Join(work, "b")
	run(t, "mkdir", "-p", out2)
	run(t, "cp", "-a", filepath.Join(out, "secrets"), filepath.Join(out2, "secrets"))
	build(t, config, out2)
	for _, name := range []string{"single-node.squashfs", "single-node.initrd", "single-node.vmlinuz", "single-node.raw"} {
		if !sameFile(t, filepath.Join(out, name), filepath.Join(out2, name)) {
			t.Errorf("%s differs between two builds of the same inputs", name)
		}
	}
}

// checkStateGrown parses "grow-state: DEV is SIZE (was SIZE)" loosely: the
// new size must be within the 2 GiB the disk grew plus the image's STATE.
func checkStateGrown(t *testing.T, line string, disk int64) {
	t.Helper()
	m := regexp.MustCompile(`is ([0-9.]+) ([KMGT]i?B) \(was ([0-9.]+) ([KMGT]i?B)\)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("cannot read sizes from %q", line)
	}
	after, before := humanBytes(t, m[1], m[2]), humanBytes(t, m[3], m[4])
	if after-before < 1<<30 {
		t.Errorf("STATE grew from %d to %d bytes; the disk grew by 2 GiB", before, after)
	}
	if after > disk {
		t.Errorf("STATE is %d bytes, larger than the %d-byte disk", after, disk)
	}
}

func humanBytes(t *testing.T, num, unit string) int64 {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatal(err)
	}
	mult := map[string]float64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if mult == 0 {
		t.Fatalf("unit %q", unit)
	}
	return int64(f * mult)
}

// TestDefaultKernelBootsUnlistedNodeAsAgent builds configs/single-node.yaml
// as it is, so the kernel is the base's own linux-image-amd64 (the one bare
// metal gets), and boots it with a MAC the inventory does not list: the node
// takes the site's default role and a hostname derived from its MAC.
func TestDefaultKernelBootsUnlistedNodeAsAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	t.Parallel()
	work := t.TempDir()
	config := siteConfig(t, work, "single-node.yaml", nil)
	out := filepath.Join(work, "out")
	build(t, config, out)
	rep := readReport(t, out)
	for _, in := range rep.Inputs {
		if in.Name == "kernel" {
			t.Fatalf("report names a separate kernel input %q; this test is for the base's kernel", in.Source)
		}
	}
	disk := filepath.Join(work, "disk.raw")
	run(t, "cp", "--sparse=always", filepath.Join(out, "single-node.raw"), disk)
	start := time.Now()
	vm, err := vmtest.Start(t.Context(), work, bootOptions(t, disk, "52:54:00:12:34:56"))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, vm, `Linux version 6\.1\.\S+-amd64 `, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: role=agent \(.*default role`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=agent hostname=single-node-123456$`, 0, bootTimeout)
	t.Logf("linux-image-amd64: firstboot done %.1fs after QEMU started", time.Since(start).Seconds())
	vm.Kill()
}

func regexpMust(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }
