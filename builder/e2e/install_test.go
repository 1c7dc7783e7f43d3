package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// TestISOInstallsToAnEmptyDisk builds configs/single-node.yaml as an
// installer ISO (install: {device: auto}) and checks both sides of the
// install:
//
//   - a disk that holds data, named explicitly without force, is refused
//     with the message and left byte-identical, and the ISO boots live;
//   - booted as a SeaBIOS CD with an empty virtio disk, the ISO writes the
//     raw layout, verifies it and reboots (QEMU's -no-reboot makes that an
//     exit); the disk alone then boots under OVMF and reaches firstboot's
//     end, growing STATE as a flashed raw image does.
//
// The site has K3s (its test double) and an image of its own, served by a
// registry on 127.0.0.1, so the ISO carries the secrets volume and an image
// payload at /appliance/payload.tar: the install writes them to SECRETS
// and PAYLOAD, and over SSH the installed node's
// /dev/disk/by-partlabel/PAYLOAD holds the payload.
//
// The kernel is the base's, as in TestISOBootsLiveFromCDAndUSB: the cloud
// kernel has no AHCI driver for the CD drive.
func TestISOInstallsToAnEmptyDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("boots VMs")
	}
	t.Parallel()
	work := t.TempDir()
	reg := testrepo.Registry(t)
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	testfixture.PushImage(t, reg.Host+"/team/notebook:1.2", img)
	signer, authorizedKey := sshKey(t)
	k3sBinary, k3sAirgap := k3sStandIn(t, work)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		doc["outputs"] = map[string]any{"iso": map[string]any{"install": map[string]any{"device": "auto"}}}
		doc["k3s"] = map[string]any{"binary": k3sBinary, "airgap": k3sAirgap}
		doc["cluster"].(map[string]any)["ssh"] = map[string]any{"authorizedKeys": []any{authorizedKey}}
		doc["images"] = []any{reg.Host + "/team/notebook:1.2"}
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	iso := filepath.Join(out, "single-node.iso")
	files := run(t, "xorriso", "-indev", iso, "-find", "/", "-type", "f")
	for _, want := range []string{"'/install/esp.img'", "'/install/layout.json'", "'/install/state.img'", "'" + bootparam.ISOPayloadPath + "'"} {
		if !strings.Contains(files, want) {
			t.Errorf("ISO lacks %s:\n%s", want, files)
		}
	}
	desc, _ := payloadDescriptor(t, out, filepath.Join(out, "single-node.squashfs"))
	onISO := filepath.Join(t.TempDir(), "payload.tar")
	run(t, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", bootparam.ISOPayloadPath, onISO)
	if got := sha256File(t, onISO); got != desc.SHA256 {
		t.Errorf("%s on the ISO has sha256 %s, the OS image's payload %s", bootparam.ISOPayloadPath, got, desc.SHA256)
	}

	t.Run("disk_with_data_without_force", func(t *testing.T) {
		refuseDiskWithData(t, iso)
	})
	t.Run("install_then_boot_the_disk", func(t *testing.T) {
		installAndBootDisk(t, iso, func(port int, p diskimage.Partition) {
			checkNodePayload(t, port, signer, desc, p.Number)
		})
	})
}

// refuseDiskWithData boots the ISO's kernel with appliance.install=/dev/vda
// (no force) and a disk holding a 3-partition GPT on vda.
func refuseDiskWithData(t *testing.T, iso string) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "data.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 4<<30); err != nil {
		t.Fatal(err)
	}
	sfdisk := "label: gpt\nsize=100MiB, name=a\nsize=100MiB, name=b\nsize=100MiB, name=c\n"
	runStdin(t, sfdisk, "sfdisk", "--quiet", disk)
	before := sha256File(t, disk)

	kernel, initrd := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd")
	run(t, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/boot/vmlinuz", kernel, "-extract", "/boot/initrd", initrd)
	cfg := filepath.Join(dir, "isolinux.cfg")
	run(t, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/isolinux/isolinux.cfg", cfg)
	cmdline := isolinuxAppend(t, cfg)
	if !strings.Contains(cmdline, " appliance.install=auto") {
		t.Fatalf("ISO kernel command line lacks appliance.install=auto: %s", cmdline)
	}
	cmdline = strings.Replace(cmdline, "appliance.install=auto", "appliance.install=/dev/vda", 1)

	vm, err := vmtest.Start(t.Context(), dir, vmtest.Options{
		Disks: []string{disk}, MemoryMiB: 2048,
		Kernel: kernel, Initrd: initrd, Append: cmdline,
		// No bootindex: direct kernel boot takes bootindex 0.
		Extra: []string{
			"-drive", "if=none,id=cd,media=cdrom,readonly=on,format=raw,file=" + iso,
			"-device", "ide-cd,drive=cd,bus=ide.0",
		},
		Console: consoleLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	expect(t, vm, `^appliance-init: install: /dev/vda holds data \(GPT with 3 partitions\); add force to overwrite; booting live$`, 0, bootTimeout)
	expect(t, vm, `^appliance-init: switching root`, 0, bootTimeout)
	vm.Kill()
	if after := sha256File(t, disk); after != before {
		t.Errorf("the refused disk changed: sha256 %s before, %s after", before, after)
	}
}

// installAndBootDisk installs from the ISO (a SeaBIOS CD, as built) to an
// empty 6 GiB disk, then boots that disk alone under OVMF, its SSH port
// forwarded to port, and calls checkPayload with PAYLOAD as the ISO's
// install layout has it.
func installAndBootDisk(t *testing.T, iso string, checkPayload func(port int, p diskimage.Partition)) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const size = 6 << 30
	if err := os.Truncate(disk, size); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	vm, err := vmtest.Start(t.Context(), dir, vmtest.Options{
		Disks: []string{disk}, MemoryMiB: 2048,
		Extra: cdArgs(iso), Console: consoleLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	expect(t, vm, `^appliance-init: install: writing to /dev/vda \(6144 MiB\)$`, 0, bootTimeout)
	expect(t, vm, `^appliance-init: install: wrote PAYLOAD \(`+regexp.QuoteMeta(bootparam.ISOPayloadPath)+`, \d+ MiB\), zeroed the rest`, 0, bootTimeout)
	expect(t, vm, `^appliance-init: install: wrote and verified /dev/vda in `, 0, bootTimeout)
	expect(t, vm, `^appliance-init: install: done, rebooting$`, 0, bootTimeout)
	// -no-reboot: the guest's reboot ends QEMU.
	if err := vm.Wait(time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("QEMU exited %.1fs after it started; the install said:", time.Since(start).Seconds())
	for _, l := range vm.Lines() {
		if strings.HasPrefix(l, "appliance-init: install: ") {
			t.Logf("  %s", l)
		}
	}

	layoutFile := filepath.Join(dir, "layout.json")
	run(t, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", bootparam.InstallLayoutPath, layoutFile)
	layout, err := bootinit.ReadInstallLayout(layoutFile)
	if err != nil {
		t.Fatal(err)
	}
	var payloadPart diskimage.Partition
	for i, p := range layout.Partitions {
		if p.Name == bootparam.LabelPayload {
			payloadPart = diskimage.Partition{Number: i + 1, Label: p.Name, Start: p.FirstLBA * layout.SectorSize, Size: p.Sectors * layout.SectorSize}
		}
	}
	if payloadPart.Number == 0 {
		t.Fatalf("the ISO's install layout has no %s partition: %+v", bootparam.LabelPayload, layout.Partitions)
	}

	start = time.Now()
	port := freePort(t)
	vm = bootDisk(t, disk, "52:54:00:00:00:01", &bootExtra{sshPort: port})
	expect(t, vm, `^appliance-init: grew STATE`, 0, bootTimeout)
	line, _ := expect(t, vm, consoleLine+`firstboot: grow-state: \S+ is `, 0, bootTimeout)
	checkStateGrown(t, line, size)
	expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	t.Logf("installed disk: firstboot done %.1fs after QEMU started", time.Since(start).Seconds())
	checkPayload(port, payloadPart)
}

// isolinuxAppend returns the APPEND line of isolinux.cfg.
func isolinuxAppend(t *testing.T, cfg string) string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*APPEND (.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no APPEND line in isolinux.cfg:\n%s", b)
	}
	return string(m[1])
}

// runStdin runs a host tool with stdin and fails t on error.
func runStdin(t *testing.T, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
