package diskimage

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/internal/hostcmd"
)

func needTool(t *testing.T, name, debPackage string) { t.Helper(); hostcmd.Need(t, name, debPackage) }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	return hostcmd.Run(t, name, args...)
}

// makeSquashfs builds a small squashfs with mksquashfs from a tree holding
// the given files, reproducibly.
func makeSquashfs(t *testing.T, files map[string]string) string {
	t.Helper()
	needTool(t, "mksquashfs", "squashfs-tools")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "os.sqfs")
	// mksquashfs refuses -all-time/-mkfs-time when SOURCE_DATE_EPOCH is set
	// (as it is under `make`), so the fixture runs without it.
	cmd := exec.Command("mksquashfs", root, img, "-quiet", "-no-progress", "-noappend",
		"-all-root", "-all-time", "0", "-mkfs-time", "0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return img
}

// extract copies size bytes at offset of the image into a new sparse file
// and returns its path, for tools that cannot take an offset.
func extract(t *testing.T, image string, offset, size int64) string {
	t.Helper()
	in, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outPath := filepath.Join(t.TempDir(), "part-"+strconv.FormatInt(offset, 10))
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := out.Truncate(size); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for done := int64(0); done < size; done += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), size-done)]
		if _, err := in.ReadAt(chunk, offset+done); err != nil {
			t.Fatal(err)
		}
		if allZero(chunk) {
			continue
		}
		if _, err := out.WriteAt(chunk, done); err != nil {
			t.Fatal(err)
		}
	}
	return outPath
}

// readAt returns n bytes of file at offset.
func readAt(t *testing.T, file string, offset int64, n int) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, offset); err != nil {
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

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bootloaderBytes is a 1 MiB stand-in for a bootloader: larger than a
// cluster and not a repetition, so a misplaced cluster shows in a compare.
func bootloaderBytes() []byte {
	b := make([]byte, 1<<20+123)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
