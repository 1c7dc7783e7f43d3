package upgrade

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// TestESPOnVFAT runs TestESPUpgradeAndBless's upgrade on a real FAT32
// filesystem, mounted by mountDevice as MountESP mounts a node's ESP (a
// loop device stands in for the partition), then checks with tools
// nobody here wrote: fsck.fat finds no problem and mtools reads the
// entries and loader.conf the renames left. It needs root, a loop device
// and a kernel with vfat; it skips, saying which, without them. It cannot
// cut the power: what a power cut leaves is the order's business (esp.go).
func TestESPOnVFAT(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a FAT filesystem needs root")
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\tvfat\n") {
		t.Skip("the running kernel has no vfat (not in /proc/filesystems): cannot mount a FAT filesystem here")
	}
	for _, tool := range []string{"mkfs.vfat", "fsck.fat", "mdir", "mtype"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing (dosfstools, mtools)", tool)
		}
	}
	work := t.TempDir()
	img := filepath.Join(work, "esp.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	runTool(t, "mkfs.vfat", "-F", "32", "-n", "ESP", img)
	dev := loopDevice(t, img)

	target := filepath.Join(work, "mnt")
	esp, unmount, err := mountDevice(dev, "/proc/self/mountinfo", target)
	if err != nil {
		t.Fatal(err)
	}
	mounted := true
	defer func() {
		if mounted {
			unmount()
		}
	}()
	if esp.Dir != target {
		t.Fatalf("mountDevice mounted at %s, want %s", esp.Dir, target)
	}
	again, unmountAgain, err := mountDevice(dev, "/proc/self/mountinfo", filepath.Join(work, "other"))
	if err != nil || again.Dir != target {
		t.Fatalf("mountDevice of a mounted ESP = %+v, %v; want the mount at %s", again, err, target)
	}
	if err := unmountAgain(); err != nil {
		t.Fatalf("unmount of a mount mountDevice found: %v", err)
	}

	layOutESP(t, esp.Dir, oldLoaderConf)
	upgradeAndBless(t, esp)
	if err := unmount(); err != nil {
		t.Fatal(err)
	}
	mounted = false

	runTool(t, "fsck.fat", "-n", img)
	lines := strings.Fields(runTool(t, "mdir", "-b", "-i", img, "::/"+bootslot.EntriesDir))
	slices.Sort(lines)
	if got := strings.Join(lines, " "); got != "::/loader/entries/appliance-a.conf ::/loader/entries/appliance-b.conf" {
		t.Errorf("entries on the FAT filesystem:\n%s", got)
	}
	if got := runTool(t, "mtype", "-i", img, "::/"+bootslot.LoaderConfPath); got != bootslot.LoaderConf() {
		t.Errorf("loader.conf on the FAT filesystem: %q", got)
	}
	if got := runTool(t, "mtype", "-i", img, "::/"+bootslot.B.KernelPath()); got != "kernel 2" {
		t.Errorf("slot b's kernel on the FAT filesystem: %q", got)
	}
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
