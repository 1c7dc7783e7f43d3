package kernel

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzUntar from untarSeeds")

// untarSeeds are FuzzUntar's seeds, committed as its corpus: a plain
// package and the hostile archives of issue 12, in fuzzScript's format.
func untarSeeds() map[string][]byte {
	seeds := map[string]string{
		"plain":                 "d boot\nf boot/vmlinuz-6.1 kernel\nd lib/modules/6.1\nf lib/modules/6.1/a.ko module\nl vmlinuz boot/vmlinuz-6.1\nh lib/modules/6.1/b.ko lib/modules/6.1/a.ko\n",
		"absolute-link-file":    "l a /\nf a/x pwned\n",
		"climbing-link-file":    "l a ../..\nf a/outside/x pwned\n",
		"chained-links":         "d a\nl a/d ..\nl a/e d/..\nf a/e/x pwned\n",
		"dir-over-link":         "l a /\nd a\n",
		"hardlink-through-link": "l a /\nh h a/passwd\n",
		"hardlink-absolute":     "h h /passwd\n",
		"hardlink-climbing":     "h h ../../outside/passwd\n",
		"hardlink-to-link":      "f b b\nl a b\nh h a\n",
		"dotdot-name":           "f ../../outside/x pwned\n",
		"inside-link-file":      "d b\nl a b\nf a/x x\n",
		"file-over-link":        "f b b\nl a b\nf a x\n",
		"device":                "c null\n",
	}
	out := map[string][]byte{}
	for name, s := range seeds {
		out[name] = []byte(s)
	}
	return out
}

func TestFuzzUntarCorpus(t *testing.T) {
	fuzzcheck.Corpus(t, "testdata/fuzz/FuzzUntar", untarSeeds(), *updateCorpus)
}

// fuzzLimits are untar's bounds scaled down, so that an input reaching
// them costs microseconds.
func fuzzLimits() limits { return limits{entries: 64, fileBytes: 1 << 10, allBytes: 4 << 10} }

// FuzzUntar unpacks archives built from a script of entries into a build
// host in miniature and checks that, whatever untar answers, nothing
// outside the destination changed and no symbolic link in it leads out.
// The script is a line an entry: "d NAME", "f NAME BODY", "l NAME TARGET",
// "h NAME TARGET", "c NAME" (a device). Absolute names and targets are
// taken below the miniature host's root (base), and a script with more
// than two ".." in all is skipped, so that a bug can only ever reach base,
// never the machine's real files.
func FuzzUntar(f *testing.F) {
	for _, seed := range untarSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		if bytes.Count(script, []byte("..")) > 2 {
			t.Skip("more than two \"..\": could leave the miniature host")
		}
		base := t.TempDir()
		l := hostileLayout{outside: filepath.Join(base, "outside"), dest: filepath.Join(base, "out", "dest")}
		for _, d := range []string{l.outside, l.dest} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(l.outside, "passwd"), []byte("root:x:0:0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		archive, ok := fuzzArchive(script, base)
		if !ok {
			t.Skip("not an archive tar writes")
		}
		untar(tar.NewReader(bytes.NewReader(archive)), l.dest, fuzzLimits()) // refused or not, the checks hold
		checkConfined(t, l)
	})
}

// fuzzArchive builds the tar stream of script; false when tar refuses an
// entry (e.g. a name with a NUL).
func fuzzArchive(script []byte, base string) ([]byte, bool) {
	rooted := func(p string) string {
		if strings.HasPrefix(p, "/") {
			return base + p
		}
		return p
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, line := range strings.Split(string(script), "\n") {
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 2 {
			continue
		}
		h := &tar.Header{Name: rooted(fields[1]), Mode: 0o644}
		arg := ""
		if len(fields) == 3 {
			arg = fields[2]
		}
		switch fields[0] {
		case "d":
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case "f":
			h.Typeflag, h.Size = tar.TypeReg, int64(len(arg))
		case "l":
			h.Typeflag, h.Linkname = tar.TypeSymlink, rooted(arg)
		case "h":
			h.Typeflag, h.Linkname = tar.TypeLink, rooted(arg)
		case "c":
			h.Typeflag = tar.TypeChar
		default:
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, false
		}
		if h.Size > 0 {
			tw.Write([]byte(arg))
		}
	}
	if err := tw.Close(); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// checkConfined fails t when anything outside l.dest changed, l.dest
// holds more than fuzzLimits allow, or a symbolic link in it resolves
// outside it.
func checkConfined(t *testing.T, l hostileLayout) {
	t.Helper()
	base := filepath.Dir(l.outside)
	for dir, want := range map[string]string{base: "out outside", filepath.Dir(l.dest): "dest", l.outside: "passwd"} {
		if got := dirNames(t, dir); strings.Join(got, " ") != want {
			t.Fatalf("%s holds %q, want %s", dir, got, want)
		}
	}
	if got, err := os.ReadFile(filepath.Join(l.outside, "passwd")); err != nil || string(got) != "root:x:0:0\n" {
		t.Fatalf("passwd = %q, %v", got, err)
	}
	root, err := os.OpenRoot(l.dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	entries, size := 0, int64(0)
	err = filepath.WalkDir(l.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == l.dest {
			return err
		}
		entries++
		rel, _ := filepath.Rel(l.dest, p)
		fi, err := d.Info()
		switch {
		case err != nil:
			return err
		case fi.Mode().IsRegular():
			size += fi.Size()
		case fi.Mode()&fs.ModeSymlink != 0:
			// os.Root follows links inside and refuses the rest.
			if _, err := root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "escapes") {
				t.Errorf("symbolic link %s leads out of the destination: %v", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lim := fuzzLimits(); entries > lim.entries || size > lim.allBytes {
		t.Errorf("destination holds %d entries, %d bytes: more than %+v", entries, size, lim)
	}
}
