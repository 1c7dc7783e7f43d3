package cloudconfig

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testFiles() []WriteFile {
	return []WriteFile{
		{Path: "/opt/app/conf/app.yaml", Content: []byte("key: value\n"), Permissions: 0o600, Owner: "existing", Group: "users"},
		{Path: "/usr/local/bin/tool", Content: []byte("#!/bin/sh\n"), Permissions: 0o755 | fs.ModeSetuid, Owner: "root", Group: "root"},
		{Path: "/etc/hosts", Content: []byte("10.0.0.1 server\n"), Permissions: 0o644, Owner: "root", Group: "root", Append: true},
		{Path: "/etc/new-list", Content: []byte("first\n"), Permissions: 0o640, Owner: "root", Group: "adm", Append: true},
		{Path: "/etc/motd", Content: []byte("old\n"), Permissions: 0o644, Owner: "root", Group: "root"},
		{Path: "/etc/motd", Content: []byte("welcome\n"), Permissions: 0o444, Owner: "root", Group: "root", Defer: true},
		{Path: "/run/empty", Content: []byte{}, Permissions: 0o644, Owner: "root", Group: "root"},
	}
}

func TestApplyWriteFiles(t *testing.T) {
	root := newRoot(t)
	if err := ApplyWriteFiles(root, testFiles()); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(root, p) }
	checkFile(t, at("opt/app/conf/app.yaml"), "key: value\n", 0o600, 1000, 100)
	checkMode(t, at("opt/app/conf"), 0o755|fs.ModeDir, 0, 0)
	checkMode(t, at("opt/app"), 0o755|fs.ModeDir, 0, 0)
	checkFile(t, at("usr/local/bin/tool"), "#!/bin/sh\n", 0o755|fs.ModeSetuid, 0, 0)
	checkFile(t, at("etc/hosts"), "127.0.0.1 localhost\n10.0.0.1 server\n", 0o644, 0, 0)
	checkFile(t, at("etc/new-list"), "first\n", 0o640, 0, 4)
	checkFile(t, at("etc/motd"), "welcome\n", 0o444, 0, 0)
	checkFile(t, at("run/empty"), "", 0o644, 0, 0)
	noLeftovers(t, root)

	first := snapshot(t, root)
	if err := ApplyWriteFiles(root, testFiles()); err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshots(first, snapshot(t, root)); d != "" {
		t.Errorf("second apply changed:\n%s", d)
	}
}

// Append entries add their content unless the file already ends with it;
// several entries for one path count as one block.
func TestApplyWriteFilesAppend(t *testing.T) {
	root := newRoot(t)
	b := WriteFile{Path: "/etc/hosts", Content: []byte("10.0.0.2 b\n"), Permissions: 0o644, Owner: "root", Group: "root", Append: true}
	c := b
	c.Content = []byte("10.0.0.3 c\n")
	for i, step := range []struct {
		files []WriteFile
		want  string
	}{
		{[]WriteFile{b, c}, "127.0.0.1 localhost\n10.0.0.2 b\n10.0.0.3 c\n"},
		{[]WriteFile{b, c}, "127.0.0.1 localhost\n10.0.0.2 b\n10.0.0.3 c\n"},
		{[]WriteFile{c}, "127.0.0.1 localhost\n10.0.0.2 b\n10.0.0.3 c\n"},
		// The limit of the rule: b is not at the end, so it goes again.
		{[]WriteFile{b}, "127.0.0.1 localhost\n10.0.0.2 b\n10.0.0.3 c\n10.0.0.2 b\n"},
		{[]WriteFile{b}, "127.0.0.1 localhost\n10.0.0.2 b\n10.0.0.3 c\n10.0.0.2 b\n"},
	} {
		if err := ApplyWriteFiles(root, step.files); err != nil {
			t.Fatal(err)
		}
		if got := readString(t, filepath.Join(root, "etc/hosts")); got != step.want {
			t.Errorf("step %d:\ngot  %q\nwant %q", i, got, step.want)
		}
	}
}

// A plain entry followed by append entries for the same path gives the
// same file on every run; the last entry's mode counts.
func TestApplyWriteFilesReplaceThenAppend(t *testing.T) {
	root := newRoot(t)
	files := []WriteFile{
		{Path: "/etc/hosts", Content: []byte("127.0.0.1 localhost\n"), Permissions: 0o644, Owner: "root", Group: "root"},
		{Path: "/etc/hosts", Content: []byte("127.0.0.1 localhost\n"), Permissions: 0o600, Owner: "root", Group: "adm", Append: true},
	}
	for range 2 {
		if err := ApplyWriteFiles(root, files); err != nil {
			t.Fatal(err)
		}
		checkFile(t, filepath.Join(root, "etc/hosts"), "127.0.0.1 localhost\n127.0.0.1 localhost\n", 0o600, 0, 4)
	}
}

func TestApplyWriteFilesOwnerErrors(t *testing.T) {
	for _, tc := range []struct {
		owner, group string
		err          string
	}{
		{"nginx", "nginx", `write_files /etc/x: owner nginx:nginx: no user "nginx" in ROOT/etc/passwd`},
		{"existing", "nope", `write_files /etc/x: owner existing:nope: no group "nope" in ROOT/etc/group`},
		{"root", "nope", `write_files /etc/x: owner root:nope: no group "nope" in ROOT/etc/group`},
	} {
		root := newRoot(t)
		err := ApplyWriteFiles(root, []WriteFile{{Path: "/etc/x", Content: []byte("x"), Permissions: 0o644, Owner: tc.owner, Group: tc.group}})
		want := strings.ReplaceAll(tc.err, "ROOT", root)
		if err == nil || err.Error() != want {
			t.Errorf("owner %s:%s: err = %v\nwant %s", tc.owner, tc.group, err, want)
		}
		if _, err := os.Lstat(filepath.Join(root, "etc/x")); !os.IsNotExist(err) {
			t.Errorf("owner %s:%s: file written despite the error", tc.owner, tc.group)
		}
	}
}

// root:root files need no account files; other owners do.
func TestApplyWriteFilesWithoutAccounts(t *testing.T) {
	root := t.TempDir()
	f := WriteFile{Path: "/etc/x", Content: []byte("x\n"), Permissions: 0o644, Owner: "root", Group: "root"}
	if err := ApplyWriteFiles(root, []WriteFile{f}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(root, "etc/x"), "x\n", 0o644, 0, 0)
	f.Owner = "alice"
	err := ApplyWriteFiles(root, []WriteFile{f})
	want := "write_files /etc/x: read " + root + "/etc/passwd: open " + root + "/etc/passwd: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// Parse and apply together: the path from the document lands under root.
func TestParseThenApplyWriteFiles(t *testing.T) {
	cfg := mustParse(t, "write_files:\n  - path: /../../etc/issue\n    encoding: gzip+base64\n    content: "+helloGzB64+"\n    permissions: '0600'\n")
	root := newRoot(t)
	if err := ApplyWriteFiles(root, cfg.WriteFiles); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(root, "etc/issue"), "hello\n", 0o600, 0, 0)
}
