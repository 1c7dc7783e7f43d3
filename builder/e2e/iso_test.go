package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// isoMedium is one way to attach the ISO to a VM.
type isoMedium struct {
	name string
	uefi bool
	// device is the kernel's name for the medium the init must find.
	device string
	// args attach the ISO at path to the VM.
	args func(path string) []string
	// stateDisk attaches an empty disk, which the live system takes for
	// its state (outputs.iso.state: auto); without one, state is in RAM.
	stateDisk bool
}

// q35's built-in AHCI controller takes the CD drive, as a SATA drive on
// a real machine does; the USB stick hangs off an xHCI controller.
var isoMedia = []isoMedium{
	{name: "SeaBIOS CD", device: "sr0", args: cdArgs},
	{name: "OVMF CD", uefi: true, device: "sr0", args: cdArgs},
	{name: "SeaBIOS USB stick", device: "sda", args: usbArgs},
	{name: "OVMF USB stick", uefi: true, device: "sda", args: usbArgs},
	{name: "SeaBIOS CD with a state disk", device: "sr0", args: cdArgs, stateDisk: true},
}

func cdArgs(path string) []string {
	return []string{
		"-drive", "if=none,id=cd,media=cdrom,readonly=on,format=raw,file=" + path,
		"-device", "ide-cd,drive=cd,bus=ide.0,bootindex=0",
	}
}

// usbArgs attaches the ISO as a USB stick, written as `dd` writes it;
// snapshot=on keeps the file unchanged, as a stick may be written to.
func usbArgs(path string) []string {
	return []string{
		"-device", "qemu-xhci,id=xhci",
		"-drive", "if=none,id=usb,format=raw,snapshot=on,file=" + path,
		"-device", "usb-storage,bus=xhci.0,drive=usb,bootindex=0",
	}
}

// TestISOBootsLiveFromCDAndUSB builds configs/single-node.yaml with only
// the ISO output and boots that one ISO as a CD and as a USB stick, each
// under SeaBIOS and under OVMF. Each boot must find the ISO by
// its volume ID, loop-mount the OS image from it, keep state in RAM and
// reach firstboot's end. The site asks for state on a disk (auto): with no
// disk but the boot medium, state falls back to RAM; with an empty disk
// attached (one more SeaBIOS CD boot) the init partitions and formats it
// for state. A second build must give the same bytes.
//
// The site has an image of its own (served to the build by a registry on
// 127.0.0.1), so the ISO carries an image payload, /appliance/payload.tar:
// on every boot the node serves it from the ISO on port 5000 and the K3s
// test double resolves the payload's image through that registry, the
// first endpoint registries.yaml gives containerd.
//
// The kernel is the base's linux-image-amd64, not the cloud kernel the
// other boot tests use for speed: the cloud kernel has no AHCI, xHCI or
// usb-storage driver, so it could boot an ISO only from virtio devices,
// which is not how a CD drive or a USB stick is attached to a machine.
func TestISOBootsLiveFromCDAndUSB(t *testing.T) {
	if testing.Short() {
		t.Skip("boots VMs")
	}
	t.Parallel()
	work := t.TempDir()
	// With K3s (its test double, on the base's kernel), so the ISO carries
	// the secrets volume a live boot reads.
	k3sBinary, k3sAirgap := k3sStandIn(t, work)
	reg := testrepo.Registry(t)
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	testfixture.PushImage(t, reg.Host+"/team/notebook:1.2", img)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		doc["outputs"] = map[string]any{"iso": map[string]any{"state": map[string]any{"device": "auto"}}}
		doc["k3s"] = map[string]any{"binary": k3sBinary, "airgap": k3sAirgap}
		doc["images"] = []any{reg.Host + "/team/notebook:1.2"}
	})
	out := filepath.Join(work, "a")
	build(t, config, out)
	iso := filepath.Join(out, "single-node.iso")
	checkISO(t, iso)
	images := isoImages{rep: readReport(t, out)}
	images.desc, _ = payloadDescriptor(t, out, filepath.Join(out, "single-node.squashfs"))
	if _, err := os.Stat(filepath.Join(out, "single-node.raw")); err == nil {
		t.Errorf("outputs: {iso: {}} also made a raw image")
	}

	for _, m := range isoMedia {
		t.Run(strings.ReplaceAll(m.name, " ", "_"), func(t *testing.T) {
			bootISO(t, iso, m, images)
		})
	}

	// The same inputs: the same cluster identity too (a fresh output
	// directory would make a new cluster).
	out2 := filepath.Join(work, "b")
	run(t, "mkdir", "-p", out2)
	run(t, "cp", "-a", filepath.Join(out, "secrets"), filepath.Join(out2, "secrets"))
	build(t, config, out2)
	if !sameFile(t, iso, filepath.Join(out2, "single-node.iso")) {
		t.Errorf("single-node.iso differs between two builds of the same inputs")
	}
}

// checkISO looks at the ISO with xorriso and at the report that lists it.
func checkISO(t *testing.T, iso string) {
	t.Helper()
	rep := readReport(t, filepath.Dir(iso))
	found := false
	for _, a := range rep.Artifacts {
		if a.Kind == "iso" && a.Path == "single-node.iso" {
			found = true
			if got := sha256File(t, iso); got != a.SHA256 {
				t.Errorf("report says the ISO has sha256 %s, file has %s", a.SHA256, got)
			}
		}
	}
	if !found {
		t.Errorf("report lists no iso artifact single-node.iso")
	}
	eltorito := run(t, "xorriso", "-indev", iso, "-report_el_torito", "plain")
	for _, want := range []string{"El Torito img path :   1  /isolinux/isolinux.bin", "El Torito img path :   2  /boot/efi.img", "Volume id    : 'SINGLE_NODE'"} {
		if !strings.Contains(eltorito, want) {
			t.Errorf("xorriso -report_el_torito lacks %q:\n%s", want, eltorito)
		}
	}
}

// isoImages is the image payload the ISO carries and the build's report.
type isoImages struct {
	desc payload.ImagePayload
	rep  report.Report
}

// bootISO boots the ISO on medium m and waits for firstboot's end, and for
// the node to serve the payload images names from the ISO.
func bootISO(t *testing.T, iso string, m isoMedium, images isoImages) {
	opts := vmtest.Options{
		UEFI: m.uefi, MemoryMiB: 2048,
		Extra: append(m.args(iso),
			"-netdev", "user,id=n0,restrict=on",
			"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01"),
		Console: consoleLog(t),
	}
	if m.stateDisk {
		disk := filepath.Join(t.TempDir(), "state.raw")
		if err := os.WriteFile(disk, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(disk, 1<<30); err != nil {
			t.Fatal(err)
		}
		opts.Disks = []string{disk}
	}
	start := time.Now()
	vm, err := vmtest.Start(t.Context(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	if m.uefi {
		// The kernel was started by firmware in UEFI mode (systemd-boot
		// from the ISO's FAT image), not by a legacy fallback.
		expect(t, vm, `\] efi: EFI v\d`, 0, bootTimeout)
	}
	// On a USB stick, sda1 starts at sector 0 and holds the same volume:
	// the init must take the whole disk rather than fail on two matches.
	attached := `^appliance-init: OS image /appliance/os\.squashfs on ` + regexp.QuoteMeta(m.device) + ` attached to /dev/loop\d+$`
	expect(t, vm, attached, 0, bootTimeout)
	kernel := time.Since(start)
	if m.stateDisk {
		expect(t, vm, `^appliance-init: state: made /dev/vda1, a STATE partition spanning /dev/vda$`, 0, bootTimeout)
		expect(t, vm, `^appliance-init: STATE /dev/vda1 mounted on /run/appliance/state$`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: grow-state: /dev/vda1 is `, 0, bootTimeout)
	} else {
		// The boot medium (a USB stick is a disk) is never taken for state.
		expect(t, vm, `^appliance-init: state: no state disk \(auto\): no empty non-removable disk`, 0, bootTimeout)
		expect(t, vm, `^appliance-init: state in RAM`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: grow-state: nothing mounted at /run/appliance/state \(state in RAM\)`, 0, bootTimeout)
	}
	// The secrets come from the ISO (read-only: kept, and said so).
	expect(t, vm, consoleLine+`firstboot: cluster-secrets: the ISO's /install/secrets\.img: installed 9 of its 9 files in /var/lib/appliance/cluster for role server `, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: cluster-secrets: the ISO's /install/secrets\.img is read-only and keeps the server secrets`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	line, _ := expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): server started with `, 0, bootTimeout)
	if want := "token-file=/var/lib/appliance/cluster/token"; !strings.Contains(line, want) {
		t.Errorf("stand-in K3s server config lacks %s: %q", want, line)
	}
	t.Logf("%s: OS image attached %.1fs, firstboot done %.1fs after QEMU started",
		m.name, kernel.Seconds(), time.Since(start).Seconds())
	where := imagepayload.KindISO + " (" + bootparam.ISOMount + bootparam.ISOPayloadPath + ")"
	expectPayloadServed(t, vm, images.desc, where, ":5000", "[::]:5000")
	expectStandInPull(t, vm, images.desc, images.rep, "http://127.0.0.1:5000/v2")
}
