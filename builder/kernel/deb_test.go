package kernel

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

var debEntries = []tarEntry{
	{name: "./", typ: tar.TypeDir, mode: 0o755},
	{name: "./boot/", typ: tar.TypeDir, mode: 0o755},
	{name: "./boot/vmlinuz-6.1.0-9-cloud-amd64", body: "kernel image", typ: tar.TypeReg, mode: 0o644},
	{name: "./lib/modules/6.1.0-9-cloud-amd64/kernel/fs/a.ko", body: "odd-length module", typ: tar.TypeReg, mode: 0o644},
	{name: "./lib/modules/6.1.0-9-cloud-amd64/modules.builtin", body: "kernel/fs/ext4/ext4.ko\n", typ: tar.TypeReg, mode: 0o644},
	{name: "./vmlinuz", link: "boot/vmlinuz-6.1.0-9-cloud-amd64", typ: tar.TypeSymlink, mode: 0o777},
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	fixture := make([]testfixture.TarEntry, len(entries))
	for i, e := range entries {
		fixture[i] = testfixture.TarEntry{Name: e.name, Body: e.body, Link: e.link, Type: e.typ, Mode: e.mode}
	}
	return testfixture.Tar(t, fixture...)
}

func compress(t *testing.T, ext string, data []byte) []byte {
	return testfixture.Compress(t, ext, data)
}

// makeDeb writes an ar archive with the given members, padding odd sizes
// as ar(1) does.
func makeDeb(t *testing.T, members map[string][]byte, order []string) string {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(arMagic)
	for _, name := range order {
		data := members[name]
		fmt.Fprintf(&buf, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, 0, 0, 0, 0o644, len(data))
		buf.Write(data)
		if len(data)%2 == 1 {
			buf.WriteByte('\n')
		}
	}
	p := filepath.Join(t.TempDir(), "linux-image-test.deb")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFromDeb(t *testing.T) {
	for _, ext := range []string{".xz", ".zst", ".gz", ""} {
		t.Run("data.tar"+ext, func(t *testing.T) {
			data := "data.tar" + ext
			deb := makeDeb(t, map[string][]byte{
				"debian-binary":  []byte("2.0\n"),
				"control.tar.xz": []byte("odd"), // odd length: exercises padding
				data:             compress(t, ext, makeTar(t, debEntries)),
			}, []string{"debian-binary", "control.tar.xz", data})
			dest := filepath.Join(t.TempDir(), "kernel")
			k, err := FromDeb(deb, dest)
			if err != nil {
				t.Fatalf("FromDeb: %v", err)
			}
			if k.Version != "6.1.0-9-cloud-amd64" || k.ModulesDir != "lib/modules/6.1.0-9-cloud-amd64" {
				t.Errorf("FromDeb() = %+v", k)
			}
			got, err := os.ReadFile(filepath.Join(dest, "lib/modules/6.1.0-9-cloud-amd64/kernel/fs/a.ko"))
			if err != nil || string(got) != "odd-length module" {
				t.Errorf("module content = %q, %v", got, err)
			}
			if link, err := os.Readlink(filepath.Join(dest, "vmlinuz")); err != nil || link != "boot/vmlinuz-6.1.0-9-cloud-amd64" {
				t.Errorf("symlink = %q, %v", link, err)
			}
			if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".kernel.tmp-*")); len(matches) != 0 {
				t.Errorf("temporary directories left behind: %v", matches)
			}
		})
	}
}

func TestExtractDebErrors(t *testing.T) {
	notAr := filepath.Join(t.TempDir(), "x.deb")
	os.WriteFile(notAr, []byte("PK\x03\x04 zip file"), 0o644)
	noData := makeDeb(t, map[string][]byte{"debian-binary": []byte("2.0\n"), "control.tar.xz": []byte("c")}, []string{"debian-binary", "control.tar.xz"})
	escape := makeDeb(t, map[string][]byte{"data.tar": makeTar(t, []tarEntry{{name: "../evil", body: "x", typ: tar.TypeReg, mode: 0o644}})}, []string{"data.tar"})
	bz2 := makeDeb(t, map[string][]byte{"data.tar.bz2": []byte("BZh")}, []string{"data.tar.bz2"})
	tests := []struct {
		deb, want string
	}{
		{notAr, ": not a Debian package (no ar header)"},
		{noData, ": no data.tar member (members: debian-binary control.tar.xz)"},
		{escape, ` data.tar: tar entry "../evil": ".." in the name: escapes the destination`},
		{bz2, ": data.tar.bz2: unsupported compression"},
	}
	for _, tt := range tests {
		dest := filepath.Join(t.TempDir(), "out")
		err := ExtractDeb(tt.deb, dest)
		want := "extract " + tt.deb + tt.want
		if err == nil || err.Error() != want {
			t.Errorf("ExtractDeb(%s) error = %v, want %q", tt.deb, err, want)
		}
		if _, err := os.Lstat(dest); err == nil {
			t.Errorf("destination %s exists after a failed extract", dest)
		}
	}
	existing := t.TempDir()
	if err := ExtractDeb(noData, existing); err == nil || err.Error() != "extract "+noData+": destination "+existing+" already exists" {
		t.Errorf("ExtractDeb into existing dir: %v", err)
	}
}
