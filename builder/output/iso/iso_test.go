package iso

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/hostcmd"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

func needTool(t *testing.T, name, debPackage string) { t.Helper(); hostcmd.Need(t, name, debPackage) }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	return hostcmd.Run(t, name, args...)
}

// extract copies the file isoPath out of the ISO and returns its content.
func extract(t *testing.T, iso, isoPath string) []byte {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(isoPath))
	run(t, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", isoPath, dst)
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testInputs writes small stand-ins for the build products: xorriso and
// the FAT writer do not look inside them.
func testInputs(t *testing.T) output.Inputs {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return output.Inputs{
		Name: "ml-lab", Seed: "ml-lab", ModTime: time.Unix(1764000000, 0).UTC(),
		Kernel:        write("vmlinuz", bytes.Repeat([]byte("kernel"), 300000)),
		KernelVersion: "6.1.0-56-amd64",
		Initramfs:     write("initrd", bytes.Repeat([]byte("initrd"), 500000)),
		OSImage:       write("os.squashfs", bytes.Repeat([]byte("squashfs"), 1000000)),
		Bootloader:    write("systemd-bootx64.efi", append([]byte("MZ"), make([]byte, 4094)...)),
		Cmdline:       []string{"console=ttyS0,115200"},
	}
}

func writeISO(t *testing.T, in output.Inputs, path string) Layout {
	t.Helper()
	l, err := Write(context.Background(), path, in, Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const wantCmdline = "appliance.os=ISO=ML_LAB:/appliance/os.squashfs appliance.state=tmpfs console=ttyS0,115200"

func TestWriteMakesAHybridISOForBIOSAndUEFI(t *testing.T) {
	needTool(t, "xorriso", "xorriso")
	needTool(t, "sfdisk", "fdisk")
	needTool(t, "mtype", "mtools")
	needTool(t, "fsck.fat", "dosfstools")
	in := testInputs(t)
	dir := t.TempDir()
	iso := filepath.Join(dir, "ml-lab.iso")
	l := writeISO(t, in, iso)
	if l.VolumeID != "ML_LAB" || l.Cmdline != wantCmdline {
		t.Errorf("layout %+v, want volume ML_LAB and cmdline %q", l, wantCmdline)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 1 {
		t.Errorf("output directory holds %v, want only the ISO (no temporary file)", names)
	}

	// The files, at the paths the boot loaders and the init use.
	found := run(t, "xorriso", "-indev", iso, "-find", "/", "-type", "f")
	var files []string
	for _, m := range regexp.MustCompile(`(?m)^'(/[^']+)'$`).FindAllStringSubmatch(found, -1) {
		files = append(files, m[1])
	}
	slices.Sort(files)
	// The boot catalog is no file to -find; the El Torito report names it.
	want := []string{"/appliance/os.squashfs", "/boot/efi.img", "/boot/initrd", "/boot/vmlinuz",
		"/isolinux/isolinux.bin", "/isolinux/isolinux.cfg", "/isolinux/ldlinux.c32"}
	if !slices.Equal(files, want) {
		t.Errorf("ISO files %q, want %q\n%s", files, want, found)
	}
	for isoPath, src := range map[string]string{"/appliance/os.squashfs": in.OSImage, "/boot/vmlinuz": in.Kernel, "/boot/initrd": in.Initramfs} {
		if b, _ := os.ReadFile(src); !bytes.Equal(extract(t, iso, isoPath), b) {
			t.Errorf("%s differs from %s", isoPath, src)
		}
	}
	wantCfg := "DEFAULT live\nPROMPT 0\nTIMEOUT 0\n\nLABEL live\n  KERNEL /boot/vmlinuz\n  INITRD /boot/initrd\n  APPEND " + wantCmdline + "\n"
	if got := string(extract(t, iso, "/isolinux/isolinux.cfg")); got != wantCfg {
		t.Errorf("isolinux.cfg:\n%s\nwant:\n%s", got, wantCfg)
	}

	// The volume ID the init looks for, in the primary volume descriptor.
	pvd := make([]byte, 72)
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(pvd, 16*2048); err != nil {
		t.Fatal(err)
	}
	if string(pvd[1:6]) != "CD001" || strings.TrimRight(string(pvd[40:72]), " ") != "ML_LAB" {
		t.Errorf("primary volume descriptor %q, want CD001 with volume ID ML_LAB", pvd)
	}

	// El Torito: isolinux for BIOS, the FAT image for UEFI.
	eltorito := run(t, "xorriso", "-indev", iso, "-report_el_torito", "plain")
	for _, re := range []string{
		`El Torito boot img :\s+1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s+\d+`,
		`El Torito boot img :\s+2\s+UEFI\s+y\s+none\s+0x0000\s+0x00\s+\d+\s+\d+`,
		`El Torito catalog  :\s+\d+\s+1`,
		`El Torito cat path :\s+/isolinux/boot.cat`,
		`El Torito img path :\s+1\s+/isolinux/isolinux.bin`,
		`El Torito img path :\s+2\s+/boot/efi.img`,
		`El Torito img opts :\s+1\s+boot-info-table isohybrid-suitable`,
	} {
		if !regexp.MustCompile(re).MatchString(eltorito) {
			t.Errorf("El Torito report lacks %q:\n%s", re, eltorito)
		}
	}

	// A USB stick: an MBR whose partitions include the EFI image (0xef).
	parts := run(t, "sfdisk", "-d", iso)
	if !regexp.MustCompile(`(?m)^\S+ : start=\s*\d+, size=\s*\d+, type=ef`).MatchString(parts) {
		t.Errorf("sfdisk -d shows no EFI (type ef) partition:\n%s", parts)
	}
	if !bytes.Equal(readAt(t, iso, 0, 432), mustRead(t, DebianSyslinux.HybridMBR)[:432]) {
		t.Errorf("the ISO's MBR boot code is not isohdpfx.bin's")
	}

	// The EFI image: systemd-boot, a loader entry with the same command
	// line, and its own kernel and initramfs.
	efi := filepath.Join(t.TempDir(), "efi.img")
	os.WriteFile(efi, extract(t, iso, "/boot/efi.img"), 0o644)
	run(t, "fsck.fat", "-n", efi)
	wantEntry := "title ml-lab (live)\nversion 6.1.0-56-amd64\nlinux /live/vmlinuz\ninitrd /live/initrd\noptions " + wantCmdline + "\n"
	if got := run(t, "mtype", "-i", efi, "::/loader/entries/live.conf"); got != wantEntry {
		t.Errorf("live.conf:\n%s\nwant:\n%s", got, wantEntry)
	}
	for efiPath, src := range map[string]string{"::/EFI/BOOT/BOOTX64.EFI": in.Bootloader, "::/live/vmlinuz": in.Kernel, "::/live/initrd": in.Initramfs} {
		if got := run(t, "mtype", "-i", efi, efiPath); got != string(mustRead(t, src)) {
			t.Errorf("EFI image %s differs from %s", efiPath, src)
		}
	}
}

func TestWriteIsReproducible(t *testing.T) {
	needTool(t, "xorriso", "xorriso")
	in := testInputs(t)
	a, b := filepath.Join(t.TempDir(), "a.iso"), filepath.Join(t.TempDir(), "b.iso")
	writeISO(t, in, a)
	// Different input mtimes and a later wall clock must not show.
	later := time.Now().Add(time.Hour)
	for _, p := range []string{in.Kernel, in.Initramfs, in.OSImage} {
		os.Chtimes(p, later, later)
	}
	time.Sleep(1100 * time.Millisecond)
	writeISO(t, in, b)
	if !bytes.Equal(mustRead(t, a), mustRead(t, b)) {
		t.Fatalf("two ISOs of the same inputs differ; compare with cmp -l %s %s", a, b)
	}
	in.Seed = "other"
	c := filepath.Join(t.TempDir(), "c.iso")
	writeISO(t, in, c)
	if bytes.Equal(mustRead(t, a), mustRead(t, c)) {
		t.Error("a different seed gave the same ISO (the GPT disk GUID derives from it)")
	}
}

func TestWriteFailureLeavesNoISO(t *testing.T) {
	needTool(t, "xorriso", "xorriso")
	in := testInputs(t)
	in.OSImage = filepath.Join(t.TempDir(), "missing.squashfs")
	dir := t.TempDir()
	_, err := Write(context.Background(), filepath.Join(dir, "ml-lab.iso"), in, Options{WorkDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "missing.squashfs") {
		t.Errorf("Write with a missing OS image: %v, want an error naming it", err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 0 {
		t.Errorf("a failed Write left %v", names)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, ".*")); len(names) != 0 {
		t.Errorf("a failed Write left %v", names)
	}
}

func TestVolumeID(t *testing.T) {
	for name, want := range map[string]string{
		"ml-lab": "ML_LAB",
		"a":      "A",
		"a-very-long-site-name-that-goes-on-and-on-for-63-characters-ok": "A_VERY_LONG_SITE_NAME_THAT_GOES_",
	} {
		if got := VolumeID(name); got != want {
			t.Errorf("VolumeID(%q) = %q, want %q", name, got, want)
		}
	}
}

func readAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCmdlineIsWhatTheInitReads parses the ISO's kernel command line with
// the init's own parser: the two sides of the bootparam contract agree.
func TestCmdlineIsWhatTheInitReads(t *testing.T) {
	if "/"+osImagePath != bootparam.ISOOSImagePath {
		t.Errorf("the ISO stores the OS image at /%s, bootparam says %s", osImagePath, bootparam.ISOOSImagePath)
	}
	in := testInputs(t)
	l, _, err := prepare(context.Background(), in, Options{WorkDir: t.TempDir(), Syslinux: DebianSyslinux})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bootinit.ParseConfig(l.Cmdline)
	if err != nil {
		t.Fatal(err)
	}
	want := bootinit.Config{OS: bootinit.Spec{Key: "ISO", Value: "ML_LAB"}, OSFile: "/appliance/os.squashfs", StateTmpfs: true}
	if cfg != want {
		t.Errorf("the init reads %q as %+v, want %+v", l.Cmdline, cfg, want)
	}
}
