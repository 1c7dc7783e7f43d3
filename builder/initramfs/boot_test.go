package initramfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/kernel"
	"github.com/ml-appliance/appliance/internal/testassets"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// bootModules are what the cloud kernel needs to reach a virtio disk with
// a squashfs, an ext4 (built in) and an overlay root.
var bootModules = []string{"virtio_pci", "virtio_blk", "squashfs", "ext4", "overlay"}

// bootFixture holds the kernel and initramfs the boot tests share.
type bootFixture struct {
	dir, kernel, initrd string
}

func newBootFixture(t *testing.T) bootFixture {
	t.Helper()
	dir := t.TempDir()
	k, err := kernel.FromDeb(testassets.Path(t, testassets.CloudKernelDeb), filepath.Join(dir, "kernel"))
	if err != nil {
		t.Fatal(err)
	}
	initBin := filepath.Join(dir, "appliance-init")
	goBuild(t, initBin, "./firstboot/cmd/appliance-init")
	f := bootFixture{dir: dir, kernel: filepath.Join(dir, "kernel", k.ImagePath), initrd: filepath.Join(dir, "initrd.img")}
	if err := BuildFile(f.initrd, Options{Init: initBin, Kernel: k, Modules: bootModules, Compression: Zstd}); err != nil {
		t.Fatal(err)
	}
	return f
}

func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = testassets.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// osImage makes a squashfs holding the fake /sbin/init (a test double) and
// a file under /var to check that STATE's /var is seeded from the image.
func osImage(t *testing.T, dir string) string {
	root := filepath.Join(dir, "osroot")
	for _, d := range []string{"sbin", "proc", "sys", "dev", "run", "etc", "tmp", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	goBuild(t, filepath.Join(root, "sbin/init"), "./builder/initramfs/testdata/fakeinit")
	if err := os.WriteFile(filepath.Join(root, "var/lib/seeded"), []byte("from-image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "os.sqfs")
	run(t, "mksquashfs", root, img, "-noappend", "-all-root", "-quiet", "-no-progress")
	return img
}

// writeAt copies the file src into disk at byte offset off.
func writeAt(t *testing.T, disk, src string, off int64) {
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// bootDisk makes a GPT disk: partition 1 (label osLabel, 8 MiB) holds the
// OS squashfs, partition 2 STATE (16 MiB ext4). The image is then enlarged
// to size, as when an image is flashed to a bigger disk.
func bootDisk(t *testing.T, dir, osLabel string, size int64) string {
	disk := filepath.Join(dir, "disk.img")
	run(t, "truncate", "-s", "26M", disk)
	run(t, "sgdisk", "-n", "1:2048:+8M", "-c", "1:"+osLabel, "-n", "2:0:+16M", "-c", "2:STATE", disk)
	writeAt(t, disk, osImage(t, dir), 1<<20)
	state := filepath.Join(dir, "state.ext4")
	run(t, "truncate", "-s", "16M", state)
	run(t, "mkfs.ext4", "-q", "-F", "-L", "STATE", state)
	writeAt(t, disk, state, 9<<20)
	if err := os.Truncate(disk, size); err != nil {
		t.Fatal(err)
	}
	return disk
}

// boot runs QEMU until it exits or until stopAt appears on the console,
// and returns the console output and the command line.
func boot(t *testing.T, f bootFixture, disk, stopAt string) (string, string) {
	t.Helper()
	vm, err := vmtest.Start(t.Context(), t.TempDir(), vmtest.Options{
		Disks: []string{disk}, MemoryMiB: 256,
		Kernel: f.kernel, Initrd: f.initrd,
		Append: "console=ttyS0 panic=-1 quiet appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	const timeout = 120 * time.Second
	if stopAt != "" {
		_, _, err = vm.Expect(regexp.MustCompile(regexp.QuoteMeta(stopAt)), 0, timeout)
	} else {
		err = vm.Wait(timeout)
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(vm.Lines(), "\n") + "\n", vm.CommandLine()
}

func expect(t *testing.T, console, cmdline string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(console, w) {
			t.Errorf("console lacks %q\ncommand: %s\nconsole:\n%s", w, cmdline, console)
			return
		}
	}
}

func TestBootQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	f := newBootFixture(t)

	t.Run("persistent state and grown STATE", func(t *testing.T) {
		dir := t.TempDir()
		disk := bootDisk(t, dir, "OS-A", 64<<20)
		console, cmdline := boot(t, f, disk, "")
		expect(t, console, cmdline,
			"appliance-init: grew STATE (partition 2 of /dev/vda) from LBA 51199 to 131038",
			"FAKEINIT: root fstype=overlay",
			"FAKEINIT: state fstype=ext4",
			"FAKEINIT: var fstype=ext4",
			"FAKEINIT: seeded=from-image",
			"FAKEINIT: previous boot file=no",
			"FAKEINIT: powering off")
		id1 := regexp.MustCompile(`FAKEINIT: machine-id=([0-9a-f]{32})\n`).FindStringSubmatch(console)
		if id1 == nil {
			t.Fatalf("no 32-hex machine-id on first boot\ncommand: %s\nconsole:\n%s", cmdline, console)
		}
		out, err := exec.Command("sgdisk", "-i", "2", disk).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Last sector: 131038 ") {
			t.Errorf("after boot sgdisk -i 2: %v\n%s", err, out)
		}
		if out, err := exec.Command("sgdisk", "-v", disk).CombinedOutput(); err != nil || !strings.Contains(string(out), "No problems found") {
			t.Errorf("after boot sgdisk -v: %v\n%s", err, out)
		}

		console, cmdline = boot(t, f, disk, "")
		expect(t, console, cmdline, "FAKEINIT: previous boot file=yes", "FAKEINIT: machine-id="+id1[1]+"\n")
		if strings.Contains(console, "grew STATE") {
			t.Errorf("second boot grew STATE again\ncommand: %s\nconsole:\n%s", cmdline, console)
		}
	})

	t.Run("no OS partition", func(t *testing.T) {
		dir := t.TempDir()
		disk := bootDisk(t, dir, "NOT-OS", 26<<20)
		console, cmdline := boot(t, f, disk, "fix the boot media")
		expect(t, console, cmdline,
			"appliance-init: BOOT FAILED: OS image: no device matches PARTLABEL=OS-A",
			"looked for: PARTLABEL=OS-A",
			"found 3 block devices:",
			"  vda 26 MiB\n",
			"  vda1 8 MiB PARTNAME=NOT-OS\n",
			"  vda2 16 MiB PARTNAME=STATE LABEL=STATE\n")
		if strings.Contains(console, "FAKEINIT") {
			t.Errorf("the OS booted without an OS-A partition\ncommand: %s", cmdline)
		}
	})
}
