package iso

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestResolveGrafts(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "isolinux.bin")
	if err := os.WriteFile(real, []byte("isolinux"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, to := range map[string]string{"absolute": real, "relative": "isolinux.bin", "chain": "absolute", "dangling": "gone"} {
		if err := os.Symlink(to, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ source, want, err string }{
		{source: "isolinux.bin", want: real},
		{source: "absolute", want: real},
		{source: "relative", want: real},
		{source: "chain", want: real},
		{source: "dangling", err: "/isolinux/isolinux.bin: lstat " + filepath.Join(dir, "gone") + ": no such file or directory"},
		{source: "fifo", err: "/isolinux/isolinux.bin: " + filepath.Join(dir, "fifo") + " is not a regular file (p---------)"},
		{source: ".", err: " is not a regular file (d---------)"},
	} {
		grafts := []graft{{isolinuxBin, filepath.Join(dir, tc.source)}}
		err := resolveGrafts(grafts)
		switch {
		case tc.err != "":
			if err == nil || !strings.HasSuffix(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error ending %q", tc.source, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.source, err)
		case grafts[0].source != tc.want:
			t.Errorf("%s: grafted %s, want %s", tc.source, grafts[0].source, tc.want)
		}
	}
}

// TestWriteStoresFilesNotLinks builds an ISO whose sources are symbolic
// links (the OS image, and isolinux.bin as a distribution might link it):
// the medium must hold regular files with the bytes.
func TestWriteStoresFilesNotLinks(t *testing.T) {
	needTool(t, "xorriso", "xorriso")
	in := testInputs(t)
	links := t.TempDir()
	sl := DebianSyslinux
	for _, p := range []*string{&in.OSImage, &sl.IsolinuxBin} {
		link := filepath.Join(links, filepath.Base(*p))
		if err := os.Symlink(*p, link); err != nil {
			t.Fatal(err)
		}
		*p = link
	}
	iso := filepath.Join(t.TempDir(), "ml-lab.iso")
	if _, err := Write(context.Background(), iso, in, Options{WorkDir: t.TempDir(), Syslinux: sl}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/" + osImagePath, "/" + isolinuxBin} {
		out := run(t, "xorriso", "-indev", iso, "-lsl", p)
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasSuffix(l, "'"+p+"'") || strings.Contains(l, "'"+p+"' -> ") {
				line = l
			}
		}
		if !strings.HasPrefix(line, "-r") {
			t.Errorf("%s on the ISO: %q, want a regular file\n%s", p, line, out)
		}
	}
}
