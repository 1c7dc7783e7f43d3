package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// oldLoaderConf is the loader.conf builds before the bootslot layout
// wrote: it names slot A's entry.
const oldLoaderConf = "default appliance-a.conf\ntimeout 0\neditor no\n"

// testESP lays out an ESP in a temporary directory as the builder writes
// a new disk (builder/output/raw ESPFiles): slot A's files and its blessed
// entry at generation 1, with the given loader.conf.
func testESP(t *testing.T, loaderConf string) *ESP {
	t.Helper()
	return layOutESP(t, t.TempDir(), loaderConf)
}

// layOutESP writes testESP's files into dir.
func layOutESP(t *testing.T, dir, loaderConf string) *ESP {
	t.Helper()
	entry, err := bootslot.Entry{Slot: bootslot.A, Site: "lab", Release: "1.0.0", Generation: 1, Options: "appliance.slot=a"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		bootslot.BootloaderPath:                   "MZ",
		bootslot.LoaderConfPath:                   loaderConf,
		bootslot.A.KernelPath():                   "kernel 1",
		bootslot.A.InitrdPath():                   "initrd 1",
		bootslot.EntriesDir + "/appliance-a.conf": string(entry),
	} {
		writeTestFile(t, filepath.Join(dir, name), data)
	}
	return &ESP{Dir: dir}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

// writeSlot writes slot s's kernel and initramfs as Apply does.
func writeSlot(t *testing.T, esp *ESP, s bootslot.Slot, kernel, initrd string) {
	t.Helper()
	for path, data := range map[string]string{s.KernelPath(): kernel, s.InitrdPath(): initrd} {
		if err := esp.WriteSlotFile(path, strings.NewReader(data), int64(len(data)), sha256Hex(data)); err != nil {
			t.Fatal(err)
		}
	}
}

// firmwareBoot is a test double of systemd-boot v252 starting the
// machine: it takes the entry bootslot.Choose takes and, when that entry
// counts its boots, renames it as config_entry_bump_counters does
// (EntryName.Bumped; src/boot/efi/boot.c 1365-1412). It returns the slot
// booted.
func firmwareBoot(t *testing.T, esp *ESP) bootslot.Slot {
	t.Helper()
	entries, err := esp.Installed()
	if err != nil {
		t.Fatal(err)
	}
	sorted := bootslot.Sorted(entries)
	if len(sorted) == 0 {
		t.Fatal("firmware: no entry to boot")
	}
	e := sorted[0]
	if next := e.Name.Bumped().File(); next != e.File {
		dir := filepath.Join(esp.Dir, bootslot.EntriesDir)
		if err := os.Rename(filepath.Join(dir, e.File), filepath.Join(dir, next)); err != nil {
			t.Fatal(err)
		}
	}
	return e.Name.Slot
}

// entryFiles lists the entries directory, dot files included.
func entryFiles(t *testing.T, esp *ESP) string {
	t.Helper()
	return dirList(t, filepath.Join(esp.Dir, bootslot.EntriesDir))
}

func readTestFile(t *testing.T, esp *ESP, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(esp.Dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestESPUpgradeAndBless walks an upgrade of slot B on a disk an older
// builder made, through the boots the firmware double makes.
func TestESPUpgradeAndBless(t *testing.T) {
	upgradeAndBless(t, testESP(t, oldLoaderConf))
}

// upgradeAndBless is TestESPUpgradeAndBless on esp, laid out by
// layOutESP with oldLoaderConf.
func upgradeAndBless(t *testing.T, esp *ESP) {
	t.Helper()
	// The older builder also wrote slot B's entry, naming files nobody wrote.
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.EntriesDir, "appliance-b.conf"),
		"title lab (slot b)\nversion 6.1.0-56-amd64\nlinux /appliance/b/vmlinuz\ninitrd /appliance/b/initrd.img\noptions appliance.slot=b\n")
	if gen, err := esp.NextGeneration(); err != nil || gen != 2 {
		t.Fatalf("NextGeneration = %d, %v; want 2", gen, err)
	}
	if err := esp.EnsureLoaderConf(); err != nil {
		t.Fatal(err)
	}
	if got := readTestFile(t, esp, bootslot.LoaderConfPath); got != bootslot.LoaderConf() {
		t.Errorf("loader.conf after EnsureLoaderConf: %q", got)
	}
	if err := esp.RemoveSlot(bootslot.B); err != nil {
		t.Fatal(err)
	}
	if got := entryFiles(t, esp); got != "appliance-a.conf" {
		t.Fatalf("entries after RemoveSlot(b): %s", got)
	}
	writeSlot(t, esp, bootslot.B, "kernel 2", "initrd 2")
	if err := esp.InstallEntry(bootslot.Entry{Slot: bootslot.B, Site: "lab", Release: "2.0.0", Generation: 2, Options: "appliance.slot=b"}); err != nil {
		t.Fatal(err)
	}
	if got := entryFiles(t, esp); got != "appliance-a.conf appliance-b+3.conf" {
		t.Fatalf("entries after InstallEntry: %s", got)
	}
	for i, want := range []string{"appliance-b+2-1.conf", "appliance-b+1-2.conf"} {
		if s := firmwareBoot(t, esp); s != bootslot.B {
			t.Fatalf("boot %d: firmware booted slot %s, want b", i+1, s.Name)
		}
		if got := entryFiles(t, esp); got != "appliance-a.conf "+want {
			t.Fatalf("boot %d: entries %s", i+1, got)
		}
	}
	if err := esp.Bless(bootslot.B); err != nil {
		t.Fatal(err)
	}
	if err := esp.Bless(bootslot.B); err != nil {
		t.Fatalf("blessing a blessed entry again: %v", err)
	}
	if got := entryFiles(t, esp); got != "appliance-a.conf appliance-b.conf" {
		t.Fatalf("entries after Bless: %s", got)
	}
	for i := range 2 {
		if s := firmwareBoot(t, esp); s != bootslot.B {
			t.Fatalf("boot %d after bless: slot %s, want b", i+1, s.Name)
		}
	}
	if got := readTestFile(t, esp, bootslot.B.KernelPath()); got != "kernel 2" {
		t.Errorf("slot b's kernel: %q", got)
	}
	entries, err := esp.Installed()
	if err != nil || len(entries) != 2 || entries[1].Entry.Release != "2.0.0" || entries[1].Entry.Generation != 2 {
		t.Errorf("Installed = %+v, %v", entries, err)
	}
}

// TestESPMarkBadFallsBack: a slot that fails its checks is marked bad
// and the firmware boots the other; one that never passes them runs out
// of tries.
func TestESPMarkBadFallsBack(t *testing.T) {
	for _, markBad := range []bool{true, false} {
		esp := testESP(t, bootslot.LoaderConf())
		writeSlot(t, esp, bootslot.B, "kernel 2", "initrd 2")
		if err := esp.InstallEntry(bootslot.Entry{Slot: bootslot.B, Site: "lab", Release: "2.0.0", Generation: 2, Options: "appliance.slot=b"}); err != nil {
			t.Fatal(err)
		}
		var booted []string
		for range 5 {
			booted = append(booted, firmwareBoot(t, esp).Name)
			if markBad {
				if err := esp.MarkBad(bootslot.B); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := "b a a a a"
		if !markBad {
			want = "b b b a a"
		}
		if got := strings.Join(booted, " "); got != want {
			t.Errorf("mark bad %v: boots %s, want %s (entries %s)", markBad, got, want, entryFiles(t, esp))
		}
		wantFile := "appliance-b+0-1.conf"
		if !markBad {
			wantFile = "appliance-b+0-3.conf"
		}
		if got := entryFiles(t, esp); got != "appliance-a.conf "+wantFile {
			t.Errorf("mark bad %v: entries %s, want appliance-a.conf %s", markBad, got, wantFile)
		}
	}
}

func TestESPRenamesRefuse(t *testing.T) {
	esp := testESP(t, bootslot.LoaderConf())
	if err := esp.Bless(bootslot.B); err == nil || !strings.Contains(err.Error(), "bless slot b: 0 loader entries of it") {
		t.Errorf("Bless of a slot without entry: %v", err)
	}
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.EntriesDir, "appliance-a+1-2.conf"), readTestFile(t, esp, bootslot.EntriesDir+"/appliance-a.conf"))
	if err := esp.MarkBad(bootslot.A); err == nil || !strings.Contains(err.Error(), "2 loader entries of it") || !strings.Contains(err.Error(), "(appliance-a+1-2.conf appliance-a.conf)") {
		t.Errorf("MarkBad of a slot with two entries: %v", err)
	}
}

func TestWriteSlotFileVerifies(t *testing.T) {
	esp := testESP(t, bootslot.LoaderConf())
	writeSlot(t, esp, bootslot.B, "kernel 2", "initrd 2")
	path := bootslot.B.KernelPath()
	for _, c := range []struct {
		name string
		r    io.Reader
		size int64
		sha  string
		want string
	}{
		{"short", strings.NewReader("kernel"), 8, sha256Hex("kernel 3"), "is 6 bytes, the manifest says 8"},
		{"long", strings.NewReader("kernel 33"), 8, sha256Hex("kernel 3"), "is 9 bytes, the manifest says 8"},
		{"corrupted", strings.NewReader("kernel 4"), 8, sha256Hex("kernel 3"), "has sha256 " + sha256Hex("kernel 4")},
		{"read error", iotest.TimeoutReader(strings.NewReader("kernel 3")), 8, sha256Hex("kernel 3"), "after 8 bytes: timeout"},
		{"sha256 grammar", strings.NewReader("kernel 3"), 8, strings.ToUpper(sha256Hex("kernel 3")), "sha256"},
		{"no room", strings.NewReader("kernel 3"), 1 << 60, sha256Hex("kernel 3"), "no room for appliance/b/vmlinuz"},
	} {
		err := esp.WriteSlotFile(path, c.r, c.size, c.sha)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: WriteSlotFile = %v, want an error saying %s", c.name, err, c.want)
		}
		if got := readTestFile(t, esp, path); got != "kernel 2" {
			t.Errorf("%s: the kernel is now %q", c.name, got)
		}
	}
	if got := dirList(t, filepath.Join(esp.Dir, bootslot.B.Dir())); got != "initrd.img vmlinuz" {
		t.Errorf("slot b's directory after failed writes: %s", got)
	}
	for _, p := range []string{"appliance/c/vmlinuz", "appliance/b/../../x", "appliance/b/.x", "EFI/BOOT/BOOTX64.EFI", "appliance/b/", "/appliance/b/vmlinuz"} {
		if err := esp.WriteSlotFile(p, strings.NewReader("x"), 1, sha256Hex("x")); err == nil || !strings.Contains(err.Error(), "want appliance/a/<name> or appliance/b/<name>") {
			t.Errorf("WriteSlotFile(%q) = %v", p, err)
		}
	}
	if err := esp.WriteSlotFile(bootslot.A.KernelPath(), strings.NewReader("x"), 1, sha256Hex("x")); err == nil ||
		!strings.Contains(err.Error(), "slot a has the loader entry appliance-a.conf: remove it before you write its file appliance/a/vmlinuz") {
		t.Errorf("WriteSlotFile of the running slot = %v", err)
	}
	if got := readTestFile(t, esp, bootslot.A.KernelPath()); got != "kernel 1" {
		t.Errorf("slot a's kernel is now %q", got)
	}
}

// TestWriteSlotFileCleansLeftovers: a temporary file a power cut left is
// removed by the next write of the same file and by RemoveSlot; none is
// an entry.
func TestWriteSlotFileCleansLeftovers(t *testing.T) {
	esp := testESP(t, bootslot.LoaderConf())
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.B.Dir(), ".firstboot-vmlinuz.tmp-0123"), "half a kernel")
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.EntriesDir, ".firstboot-appliance-b+3.conf.tmp-0123"), "half an entry")
	entries, err := esp.Installed()
	if err != nil || len(entries) != 1 {
		t.Errorf("Installed with leftovers = %+v, %v", entries, err)
	}
	writeSlot(t, esp, bootslot.B, "kernel 2", "initrd 2")
	if got := dirList(t, filepath.Join(esp.Dir, bootslot.B.Dir())); got != "initrd.img vmlinuz" {
		t.Errorf("slot b's directory: %s", got)
	}
	if size, err := esp.SlotSize(bootslot.B); err != nil || size != 16 {
		t.Errorf("SlotSize(b) = %d, %v; want 16", size, err)
	}
	if err := esp.RemoveSlot(bootslot.B); err != nil {
		t.Fatal(err)
	}
	if got := entryFiles(t, esp); got != "appliance-a.conf" {
		t.Errorf("entries after RemoveSlot(b): %s", got)
	}
	if got := dirList(t, filepath.Join(esp.Dir, bootslot.B.Dir())); got != "" {
		t.Errorf("slot b's directory after RemoveSlot: %s", got)
	}
	if got := readTestFile(t, esp, bootslot.A.InitrdPath()); got != "initrd 1" {
		t.Errorf("slot a's initramfs: %q", got)
	}
}

func dirList(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

func TestInstallEntryRefuses(t *testing.T) {
	esp := testESP(t, bootslot.LoaderConf())
	entry := bootslot.Entry{Slot: bootslot.B, Site: "lab", Release: "2.0.0", Generation: 2, Options: "appliance.slot=b"}
	if err := esp.InstallEntry(entry); err == nil || !strings.Contains(err.Error(), "appliance/b/vmlinuz is not on the ESP") {
		t.Errorf("InstallEntry without a kernel: %v", err)
	}
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.B.KernelPath()), "k")
	if err := esp.InstallEntry(entry); err == nil || !strings.Contains(err.Error(), "appliance/b/initrd.img is not on the ESP") {
		t.Errorf("InstallEntry without an initramfs: %v", err)
	}
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.B.InitrdPath()), "i")
	bad := entry
	bad.Options = "quiet\ninit=/bin/sh"
	if err := esp.InstallEntry(bad); err == nil || !strings.Contains(err.Error(), "byte 0x0a") {
		t.Errorf("InstallEntry of a bad entry: %v", err)
	}
	writeTestFile(t, filepath.Join(esp.Dir, bootslot.EntriesDir, "appliance-b+0-3.conf"), strings.ReplaceAll(readTestFile(t, esp, bootslot.EntriesDir+"/appliance-a.conf"), "/a/", "/b/"))
	if err := esp.InstallEntry(entry); err == nil || !strings.Contains(err.Error(), "slot b has the loader entry appliance-b+0-3.conf") {
		t.Errorf("InstallEntry over an entry: %v", err)
	}
	if got := entryFiles(t, esp); got != "appliance-a.conf appliance-b+0-3.conf" {
		t.Errorf("entries after refusals: %s", got)
	}
}

// TestInstalledReadsSafely: other files are ignored, a link, a directory
// or an oversized file in an entry's place is refused, and a missing
// kernel is noted.
func TestInstalledReadsSafely(t *testing.T) {
	esp := testESP(t, bootslot.LoaderConf())
	entries := filepath.Join(esp.Dir, bootslot.EntriesDir)
	writeTestFile(t, filepath.Join(entries, "live.conf"), "title live\n")
	writeTestFile(t, filepath.Join(entries, "README"), "x")
	bEntry := strings.ReplaceAll(readTestFile(t, esp, bootslot.EntriesDir+"/appliance-a.conf"), "/a/", "/b/")
	writeTestFile(t, filepath.Join(entries, "appliance-b+3.conf"), bEntry)
	got, err := esp.Installed()
	if err != nil || len(got) != 2 || got[0].KernelMissing || !got[1].KernelMissing || got[1].Name != bootslot.Trial(bootslot.B) {
		t.Fatalf("Installed = %+v, %v; want a's entry and b's, b's kernel missing", got, err)
	}
	if s, ok := bootslot.Choose(got); !ok || s != bootslot.A {
		t.Errorf("Choose = %s, want a: b's kernel is missing", s.Name)
	}
	for _, c := range []struct {
		name string
		make func(path string) error
		want string
	}{
		{"link", func(p string) error { return os.Symlink("appliance-a.conf", p) }, "a symbolic link"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "not a regular file"},
		{"FIFO", func(p string) error { return unix.Mkfifo(p, 0o644) }, "not a regular file"},
		{"huge", func(p string) error { return os.WriteFile(p, make([]byte, bootslot.MaxEntrySize+1), 0o644) }, "larger than 16384 bytes"},
		{"other slot's kernel", func(p string) error { return os.WriteFile(p, []byte(bEntry), 0o644) }, "boots slot b's kernel, its name says slot a"},
	} {
		p := filepath.Join(entries, "appliance-a+3.conf")
		if err := c.make(p); err != nil {
			t.Fatal(err)
		}
		if _, err := esp.Installed(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s as an entry: Installed = %v, want an error saying %s", c.name, err, c.want)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestESPFollowsNoLink: a directory of the layout that is a symbolic link
// is refused, and nothing is written where it points.
func TestESPFollowsNoLink(t *testing.T) {
	esp := testESP(t, bootslot.LoaderConf())
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(esp.Dir, bootslot.B.Dir())); err != nil {
		t.Fatal(err)
	}
	err := esp.WriteSlotFile(bootslot.B.KernelPath(), strings.NewReader("x"), 1, sha256Hex("x"))
	if err == nil || !strings.Contains(err.Error(), "not a directory (a link or a file)") {
		t.Errorf("WriteSlotFile through a link: %v", err)
	}
	if got := dirList(t, elsewhere); got != "" {
		t.Errorf("written through the link: %s", got)
	}
	loader := filepath.Join(esp.Dir, "loader")
	if err := os.Rename(loader, loader+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(loader+".real", loader); err != nil {
		t.Fatal(err)
	}
	if _, err := esp.Installed(); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Installed through a link: %v", err)
	}
	if err := esp.EnsureLoaderConf(); err == nil {
		t.Errorf("EnsureLoaderConf through a link: no error")
	}
}

func TestEnsureLoaderConf(t *testing.T) {
	for _, old := range []string{bootslot.LoaderConf(), oldLoaderConf, "", strings.Repeat("#", maxLoaderConf+1)} {
		esp := testESP(t, old)
		if old == "" {
			os.Remove(filepath.Join(esp.Dir, bootslot.LoaderConfPath))
		}
		if err := esp.EnsureLoaderConf(); err != nil {
			t.Fatal(err)
		}
		if got := readTestFile(t, esp, bootslot.LoaderConfPath); got != bootslot.LoaderConf() {
			t.Errorf("loader.conf %.30q became %q", old, got)
		}
		if got := dirList(t, filepath.Join(esp.Dir, "loader")); got != "entries loader.conf" {
			t.Errorf("loader/ holds %s", got)
		}
	}
}

func TestNextGenerationOfAnEmptyESP(t *testing.T) {
	esp := &ESP{Dir: t.TempDir()}
	if gen, err := esp.NextGeneration(); err != nil || gen != 1 {
		t.Errorf("NextGeneration = %d, %v; want 1", gen, err)
	}
	if err := esp.RemoveSlot(bootslot.B); err != nil {
		t.Errorf("RemoveSlot on an empty ESP: %v", err)
	}
	if _, err := (&ESP{Dir: filepath.Join(esp.Dir, "missing")}).Installed(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Installed of a missing ESP directory: %v", err)
	}
}
