package nocloud

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// run runs a host tool and fails the test with its output on error.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// makeVFAT makes a vfat image with mkfs.vfat and copies files in with mcopy.
// An empty label leaves the filesystem unlabelled.
func makeVFAT(t *testing.T, path, label string, sizeKiB string, extra []string, files map[string]string) {
	t.Helper()
	args := append([]string{"-C"}, extra...)
	if label != "" {
		args = append(args, "-n", label)
	}
	run(t, "mkfs.vfat", append(args, path, sizeKiB)...)
	src := t.TempDir()
	for name, content := range files {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "mcopy", "-i", path, p, "::"+name)
	}
}

func readLabelOf(t *testing.T, path string) (string, string, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadLabel(f)
}

func TestReadLabel(t *testing.T) {
	dir := t.TempDir()
	fat12 := filepath.Join(dir, "fat12.img")
	makeVFAT(t, fat12, "CIDATA", "1024", nil, nil)
	fat32 := filepath.Join(dir, "fat32.img")
	makeVFAT(t, fat32, "cidata", "40000", []string{"-F", "32"}, nil)
	unlabelled := filepath.Join(dir, "nolabel.img")
	makeVFAT(t, unlabelled, "", "1024", nil, nil)
	isoDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(isoDir, "meta-data"), []byte("instance-id: i-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "seed.iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", "cidata", "-o", iso, isoDir)
	ext4 := filepath.Join(dir, "ext4.img")
	run(t, "mkfs.ext4", "-q", "-L", "CIDATA", ext4, "2M")

	for _, tc := range []struct {
		name, path, fstype, label string
		err                       error
	}{
		{"fat12", fat12, FSVFAT, "CIDATA", nil},
		{"fat32", fat32, FSVFAT, "cidata", nil},
		{"no label", unlabelled, FSVFAT, "", nil},
		{"iso9660", iso, FSISO9660, "cidata", nil},
		{"ext4 is not read", ext4, "", "", errNoLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fstype, label, err := readLabelOf(t, tc.path)
			if !errors.Is(err, tc.err) || fstype != tc.fstype || label != tc.label {
				t.Errorf("ReadLabel(%s) = %q, %q, %v; want %q, %q, %v", tc.name, fstype, label, err, tc.fstype, tc.label, tc.err)
			}
		})
	}
}

// fakeBlockRoot makes root/sys/class/block/<name>/size and root/dev/<name>
// for each image given, as the kernel would show them.
func fakeBlockRoot(t *testing.T, devices map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, image := range devices {
		sys := filepath.Join(root, "sys/class/block", name)
		if err := os.MkdirAll(sys, 0o755); err != nil {
			t.Fatal(err)
		}
		size := "0"
		if image != "" {
			fi, err := os.Stat(image)
			if err != nil {
				t.Fatal(err)
			}
			size = strconv.FormatInt(fi.Size()/512, 10)
		}
		if err := os.WriteFile(filepath.Join(sys, "size"), []byte(size+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
			t.Fatal(err)
		}
		if image != "" {
			if err := os.Symlink(image, filepath.Join(root, "dev", name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFindDevice(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.img")
	makeVFAT(t, other, "ESP", "1024", nil, nil)
	seed := filepath.Join(dir, "seed.img")
	makeVFAT(t, seed, "CIDATA", "1024", nil, nil)
	blank := filepath.Join(dir, "blank.img")
	if err := os.WriteFile(blank, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("finds the labelled device among others", func(t *testing.T) {
		root := fakeBlockRoot(t, map[string]string{"loop0": "", "sr0": "", "vda": blank, "vda1": other, "vdb": seed})
		got, err := FindDevice(root)
		want := Device{Name: "vdb", Path: "/dev/vdb", FSType: FSVFAT, Label: "CIDATA"}
		if err != nil || got != want {
			t.Errorf("FindDevice = %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("no seed", func(t *testing.T) {
		root := fakeBlockRoot(t, map[string]string{"vda": blank, "vda1": other})
		if _, err := FindDevice(root); !errors.Is(err, ErrNoSeed) {
			t.Errorf("FindDevice err = %v, want ErrNoSeed", err)
		}
	})
	t.Run("no sysfs", func(t *testing.T) {
		if _, err := FindDevice(t.TempDir()); !errors.Is(err, ErrNoSeed) {
			t.Errorf("FindDevice err = %v, want ErrNoSeed", err)
		}
	})
}
