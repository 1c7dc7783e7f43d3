package bootinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// makeDisk makes a GPT image of size bytes with sgdisk; args add partitions.
func makeDisk(t *testing.T, size int64, args ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sgdisk", append(args, p)...).CombinedOutput(); err != nil {
		t.Fatalf("sgdisk %v: %v\n%s", args, err, out)
	}
	return p
}

func growFile(t *testing.T, path string, size int64) (GrowResult, error) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return GrowPartition(f, size, 512, "STATE")
}

// sgdiskEnd returns partition n's last sector as sgdisk -i reports it, and
// fails t when sgdisk -v finds a problem.
func sgdiskEnd(t *testing.T, path string, n string) string {
	t.Helper()
	out, err := exec.Command("sgdisk", "-v", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v: %v\n%s", err, out)
	}
	out, err = exec.Command("sgdisk", "-i", n, path).CombinedOutput()
	if err != nil {
		t.Fatalf("sgdisk -i: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Last sector: (\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("sgdisk -i %s: no last sector in\n%s", n, out)
	}
	return m[1]
}

func TestGrowPartition(t *testing.T) {
	disk := makeDisk(t, 8<<20, "-n", "1:2048:+2M", "-c", "1:OS-A", "-n", "2:0:+2M", "-c", "2:STATE")
	if end := sgdiskEnd(t, disk, "2"); end != "10239" {
		t.Fatalf("fixture: STATE ends at %s", end)
	}
	res, err := growFile(t, disk, 16<<20)
	if err != nil {
		t.Fatalf("GrowPartition: %v", err)
	}
	// 16 MiB = 32768 sectors; the backup table takes the last 33.
	want := GrowResult{Number: 2, Start: 6144, OldEnd: 10239, NewEnd: 32734, SectorSize: 512, Grown: true, MovedBackupTable: true}
	if res != want {
		t.Errorf("GrowPartition() = %+v, want %+v", res, want)
	}
	if end := sgdiskEnd(t, disk, "2"); end != "32734" {
		t.Errorf("after grow sgdisk says STATE ends at %s, want 32734", end)
	}
	// A second run finds nothing to do.
	res, err = growFile(t, disk, 16<<20)
	if err != nil || res.Grown || res.MovedBackupTable {
		t.Errorf("second GrowPartition() = %+v, %v; want no change", res, err)
	}
}

func TestGrowPartitionNotLast(t *testing.T) {
	disk := makeDisk(t, 8<<20, "-n", "1:2048:+2M", "-c", "1:STATE", "-n", "2:0:+2M", "-c", "2:OS-A")
	res, err := growFile(t, disk, 16<<20)
	want := "partition STATE (1) is not the last one (partition 2 ends later); moved the backup GPT only"
	if err == nil || err.Error() != want {
		t.Fatalf("GrowPartition() error = %v, want %q", err, want)
	}
	if res.Grown || !res.MovedBackupTable {
		t.Errorf("GrowPartition() = %+v", res)
	}
	if end := sgdiskEnd(t, disk, "1"); end != "6143" {
		t.Errorf("STATE end = %s, want unchanged 6143", end)
	}
}

func TestGrowPartitionErrors(t *testing.T) {
	noState := makeDisk(t, 8<<20, "-n", "1:2048:+2M", "-c", "1:OS-A")
	if _, err := growFile(t, noState, 8<<20); err == nil || err.Error() != "GPT has no partition named STATE" {
		t.Errorf("no STATE: %v", err)
	}
	blank := filepath.Join(t.TempDir(), "blank.img")
	os.WriteFile(blank, nil, 0o644)
	if _, err := growFile(t, blank, 8<<20); err == nil || err.Error() != "no GPT header at LBA 1" {
		t.Errorf("blank disk: %v", err)
	}
	corrupt := makeDisk(t, 8<<20, "-n", "1:2048:+2M", "-c", "1:STATE")
	f, _ := os.OpenFile(corrupt, os.O_RDWR, 0)
	f.WriteAt([]byte("X"), 512+56) // inside the disk GUID
	f.Close()
	if _, err := growFile(t, corrupt, 8<<20); err == nil || !strings.HasPrefix(err.Error(), "GPT header at LBA 1: CRC ") {
		t.Errorf("corrupt header: %v", err)
	}
}
