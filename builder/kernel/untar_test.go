package kernel

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// hostileLayout is a build host in miniature: outside holds a file the
// archive must not reach (passwd, mode 0755 directory), dest is where the
// package unpacks.
type hostileLayout struct {
	outside, dest string
}

func newHostileLayout(t *testing.T) hostileLayout {
	base := t.TempDir()
	l := hostileLayout{outside: filepath.Join(base, "outside"), dest: filepath.Join(base, "out", "kernel")}
	if err := os.MkdirAll(l.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Dir(l.dest), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.outside, "passwd"), []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// checkUntouched fails t when anything outside dest changed: a new entry
// in outside or next to dest, passwd's content or link count, or the
// outside directory's mode.
func (l hostileLayout) checkUntouched(t *testing.T) {
	t.Helper()
	if got := dirNames(t, l.outside); len(got) != 1 || got[0] != "passwd" {
		t.Errorf("outside holds %q, want only passwd", got)
	}
	if got := dirNames(t, filepath.Dir(l.dest)); len(got) != 0 {
		t.Errorf("the destination's parent holds %q after a refused package", got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(l.outside, "passwd"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 1 || st.Size != int64(len("root:x:0:0\n")) {
		t.Errorf("passwd: %d links, %d bytes: the archive reached it", st.Nlink, st.Size)
	}
	if fi, err := os.Stat(l.outside); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("outside: %v, %v: the archive changed its mode", fi.Mode(), err)
	}
}

// dirNames lists dir's entries, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestExtractDebHostile(t *testing.T) {
	const abs = "<outside>" // replaced by the layout's outside directory
	tests := []struct {
		name    string
		entries []tarEntry
		want    string // the error after "extract DEB data.tar: "
	}{
		{
			name: "absolute symlink then a file under it",
			entries: []tarEntry{
				{name: "./a", link: abs, typ: tar.TypeSymlink},
				{name: "./a/x", body: "pwned", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "./a": symbolic link to "<outside>": an absolute target leaves the package`,
		},
		{
			name: "relative symlink climbing out then a file under it",
			entries: []tarEntry{
				{name: "a", link: "../../outside", typ: tar.TypeSymlink},
				{name: "a/x", body: "pwned", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "a": symbolic link to "../../outside" leaves the package`,
		},
		{
			name: "chain of links each inside, escaping together, then a file under it",
			entries: []tarEntry{
				{name: "a/b/", typ: tar.TypeDir, mode: 0o755},
				{name: "a/b/d", link: "../..", typ: tar.TypeSymlink},
				{name: "a/b/e", link: "d/..", typ: tar.TypeSymlink},
				{name: "a/b/e/x", body: "pwned", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "a/b/e": symbolic link to "d/..": ".." may only lead the target`,
		},
		{
			name: "directory entry over an absolute symlink (chmod through it)",
			entries: []tarEntry{
				{name: "a", link: abs, typ: tar.TypeSymlink},
				{name: "a/", typ: tar.TypeDir, mode: 0o777},
			},
			want: `tar entry "a": symbolic link to "<outside>": an absolute target leaves the package`,
		},
		{
			name: "hard link through a symlink to a host file",
			entries: []tarEntry{
				{name: "a", link: abs, typ: tar.TypeSymlink},
				{name: "h", link: "a/passwd", typ: tar.TypeLink},
			},
			want: `tar entry "a": symbolic link to "<outside>": an absolute target leaves the package`,
		},
		{
			name:    "hard link to /etc/passwd",
			entries: []tarEntry{{name: "h", link: "/etc/passwd", typ: tar.TypeLink}},
			want:    `tar entry "h": hard link to "/etc/passwd": absolute name: escapes the destination`,
		},
		{
			name:    "hard link climbing out",
			entries: []tarEntry{{name: "h", link: "../../outside/passwd", typ: tar.TypeLink}},
			want:    `tar entry "h": hard link to "../../outside/passwd": ".." in the name: escapes the destination`,
		},
		{
			name:    "../ name",
			entries: []tarEntry{{name: "../outside/x", body: "pwned", typ: tar.TypeReg, mode: 0o644}},
			want:    `tar entry "../outside/x": ".." in the name: escapes the destination`,
		},
		{
			name:    ".. inside a name",
			entries: []tarEntry{{name: "a/../../outside/x", body: "pwned", typ: tar.TypeReg, mode: 0o644}},
			want:    `tar entry "a/../../outside/x": ".." in the name: escapes the destination`,
		},
		{
			name:    "absolute name",
			entries: []tarEntry{{name: "<outside>/x", body: "pwned", typ: tar.TypeReg, mode: 0o644}},
			want:    `tar entry "<outside>/x": absolute name: escapes the destination`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newHostileLayout(t)
			entries := make([]tarEntry, len(tt.entries))
			for i, e := range tt.entries {
				e.name = strings.ReplaceAll(e.name, abs, l.outside)
				e.link = strings.ReplaceAll(e.link, abs, l.outside)
				entries[i] = e
			}
			deb := makeDeb(t, map[string][]byte{"data.tar.xz": compress(t, ".xz", makeTar(t, entries))}, []string{"data.tar.xz"})
			err := ExtractDeb(deb, l.dest)
			want := "extract " + deb + " data.tar.xz: " + strings.ReplaceAll(tt.want, abs, l.outside)
			if err == nil || err.Error() != want {
				t.Errorf("ExtractDeb error = %v\nwant %s", err, want)
			}
			l.checkUntouched(t)
		})
	}
}

// TestUntarNoWriteThroughLinks covers links that stay inside the package:
// they are kept as links, and nothing is written through them.
func TestUntarNoWriteThroughLinks(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{
			name: "file under a link to a directory of the package",
			entries: []tarEntry{
				{name: "b/", typ: tar.TypeDir, mode: 0o755},
				{name: "a", link: "b", typ: tar.TypeSymlink},
				{name: "a/x", body: "x", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "a/x": a is a symbolic link (to "b"): nothing is written through one`,
		},
		{
			name: "file two levels under a link",
			entries: []tarEntry{
				{name: "b/c/", typ: tar.TypeDir, mode: 0o755},
				{name: "a", link: "b", typ: tar.TypeSymlink},
				{name: "a/c/x", body: "x", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "a/c/x": a is a symbolic link (to "b"): nothing is written through one`,
		},
		{
			name: "directory entry over a link",
			entries: []tarEntry{
				{name: "b/", typ: tar.TypeDir, mode: 0o755},
				{name: "a", link: "b", typ: tar.TypeSymlink},
				{name: "a/", typ: tar.TypeDir, mode: 0o700},
			},
			want: `tar entry "a/": a is a symbolic link (to "b"): nothing is written through one`,
		},
		{
			name: "file over a link",
			entries: []tarEntry{
				{name: "b", body: "b", typ: tar.TypeReg, mode: 0o644},
				{name: "a", link: "b", typ: tar.TypeSymlink},
				{name: "a", body: "x", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "a": create a: file exists`,
		},
		{
			name: "hard link to a link",
			entries: []tarEntry{
				{name: "b", body: "b", typ: tar.TypeReg, mode: 0o644},
				{name: "a", link: "b", typ: tar.TypeSymlink},
				{name: "h", link: "a", typ: tar.TypeLink},
			},
			want: `tar entry "h": hard link to "a": not a regular file`,
		},
		{
			name: "hard link through a link",
			entries: []tarEntry{
				{name: "b/f", body: "f", typ: tar.TypeReg, mode: 0o644},
				{name: "a", link: "b", typ: tar.TypeSymlink},
				{name: "h", link: "a/f", typ: tar.TypeLink},
			},
			want: `tar entry "h": hard link to "a/f": a is a symbolic link (to "b"): nothing is written through one`,
		},
		{
			name:    "hard link to nothing",
			entries: []tarEntry{{name: "h", link: "missing", typ: tar.TypeLink}},
			want:    `tar entry "h": hard link to "missing": no such file or directory`,
		},
		{
			name: "file under a file",
			entries: []tarEntry{
				{name: "f", body: "f", typ: tar.TypeReg, mode: 0o644},
				{name: "f/x", body: "x", typ: tar.TypeReg, mode: 0o644},
			},
			want: `tar entry "f/x": f is not a directory`,
		},
		{
			name:    "device node",
			entries: []tarEntry{{name: "null", typ: tar.TypeChar}},
			want:    `tar entry "null": unsupported type '3'`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := untar(tar.NewReader(bytes.NewReader(makeTar(t, tt.entries))), dir, debLimits())
			if err == nil || err.Error() != tt.want {
				t.Errorf("untar error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestUntarKeepsInsideLinks: links inside the package, missing parents,
// hard links to files and modes come out as the archive says.
func TestUntarKeepsInsideLinks(t *testing.T) {
	dir := t.TempDir()
	entries := []tarEntry{
		{name: "./usr/lib/modules/6.1/kernel/a.ko", body: "module", typ: tar.TypeReg, mode: 0o600},
		{name: "./lib", link: "usr/lib", typ: tar.TypeSymlink},
		{name: "./usr/lib/modules/6.1/up", link: "../../../share/./x", typ: tar.TypeSymlink},
		{name: "./usr/lib/modules/6.1/hard.ko", link: "usr/lib/modules/6.1/kernel/a.ko", typ: tar.TypeLink},
		{name: "./usr/share/", typ: tar.TypeDir, mode: 0o750},
	}
	if err := untar(tar.NewReader(bytes.NewReader(makeTar(t, entries))), dir, debLimits()); err != nil {
		t.Fatalf("untar: %v", err)
	}
	for p, want := range map[string]string{"lib": "usr/lib", "usr/lib/modules/6.1/up": "../../../share/./x"} {
		if got, err := os.Readlink(filepath.Join(dir, p)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v, want %q", p, got, err, want)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "lib/modules/6.1/hard.ko")); err != nil || string(got) != "module" {
		t.Errorf("hard link content = %q, %v", got, err)
	}
	for p, want := range map[string]os.FileMode{"usr/share": 0o750 | os.ModeDir, "usr/lib/modules/6.1/kernel/a.ko": 0o600} {
		if fi, err := os.Lstat(filepath.Join(dir, p)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v, want %v", p, fi.Mode(), err, want)
		}
	}
}

func TestUntarLimits(t *testing.T) {
	small := limits{entries: 3, fileBytes: 10, allBytes: 15}
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{
			name:    "too many entries",
			entries: []tarEntry{{name: "a/", typ: tar.TypeDir}, {name: "b/", typ: tar.TypeDir}, {name: "c", link: "a", typ: tar.TypeSymlink}, {name: "d/", typ: tar.TypeDir}},
			want:    `tar entry "d/": the archive has more than 3 entries (directories made for them included), the limit for a kernel package`,
		},
		{
			name:    "too many directories made for one entry",
			entries: []tarEntry{{name: "a/b/c/d", body: "x", typ: tar.TypeReg}},
			want:    `tar entry "a/b/c/d": make a/b/c: the archive has more than 3 entries (directories made for them included), the limit for a kernel package`,
		},
		{
			name:    "one file too large",
			entries: []tarEntry{{name: "big", body: "0123456789A", typ: tar.TypeReg}},
			want:    `tar entry "big": 11 bytes: more than 10, the limit for one file of a kernel package`,
		},
		{
			name:    "all files too large",
			entries: []tarEntry{{name: "a", body: "0123456789", typ: tar.TypeReg}, {name: "b", body: "012345", typ: tar.TypeReg}},
			want:    `tar entry "b": the archive unpacks to more than 15 bytes, the limit for a kernel package`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := untar(tar.NewReader(bytes.NewReader(makeTar(t, tt.entries))), t.TempDir(), small)
			if err == nil || err.Error() != tt.want {
				t.Errorf("untar error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestExtractDebFileBound: a package whose header claims more than
// maxDebFileBytes is refused before a byte is written, at the real bound.
func TestExtractDebFileBound(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "boot/vmlinuz-x", Typeflag: tar.TypeReg, Mode: 0o644, Size: maxDebFileBytes + 1}); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, 4096)) // a few bytes of the claimed content; the rest never comes
	deb := makeDeb(t, map[string][]byte{"data.tar": buf.Bytes()}, []string{"data.tar"})
	dest := filepath.Join(t.TempDir(), "kernel")
	err := ExtractDeb(deb, dest)
	want := "extract " + deb + ` data.tar: tar entry "boot/vmlinuz-x": 536870913 bytes: more than 536870912, the limit for one file of a kernel package`
	if err == nil || err.Error() != want {
		t.Errorf("ExtractDeb error = %v\nwant %s", err, want)
	}
}
