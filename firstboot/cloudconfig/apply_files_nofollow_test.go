package cloudconfig

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A symbolic link anywhere in a write_files path is an error naming it,
// found before anything is written; nothing outside the root is written,
// read, chowned or chmodded through it.
func TestApplyWriteFilesRefusesSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root, outside string)
		file  WriteFile
		err   string // OUT is the outside directory
	}{
		{
			name:  "parent directory",
			setup: func(t *testing.T, root, outside string) { symlink(t, outside, filepath.Join(root, "opt/app")) },
			file:  WriteFile{Path: "/opt/app/conf/x.yaml", Content: []byte("x\n"), Permissions: 0o644},
			err:   "write_files /opt/app/conf/x.yaml: /opt/app is a symbolic link (to OUT): write_files neither follows nor replaces symbolic links; name the file by a path without one",
		},
		{
			name:  "relative link to a directory inside the root",
			setup: func(t *testing.T, root, outside string) { symlink(t, "etc", filepath.Join(root, "etc2")) },
			file:  WriteFile{Path: "/etc2/motd", Content: []byte("x\n"), Permissions: 0o644},
			err:   "write_files /etc2/motd: /etc2 is a symbolic link (to etc): write_files neither follows nor replaces symbolic links; name the file by a path without one",
		},
		{
			name: "the file",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, outside+"/target", filepath.Join(root, "etc/motd"))
			},
			file: WriteFile{Path: "/etc/motd", Content: []byte("x\n"), Permissions: 0o4777},
			err:  "write_files /etc/motd: /etc/motd is a symbolic link (to OUT/target)",
		},
		{
			name: "appending to a link",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, outside+"/target", filepath.Join(root, "etc/motd"))
			},
			file: WriteFile{Path: "/etc/motd", Content: []byte("x\n"), Permissions: 0o644, Append: true},
			err:  "write_files /etc/motd: /etc/motd is a symbolic link (to OUT/target)",
		},
		{
			name: "appending to a FIFO",
			setup: func(t *testing.T, root, outside string) {
				if err := syscall.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			file: WriteFile{Path: "/etc/fifo", Content: []byte("x\n"), Permissions: 0o644, Append: true},
			err:  "write_files /etc/fifo: /etc/fifo is not a regular file",
		},
		{
			name: "a directory",
			file: WriteFile{Path: "/etc", Content: []byte("x\n"), Permissions: 0o644},
			err:  "write_files /etc: /etc is a directory",
		},
		{
			name: "a file as a parent",
			file: WriteFile{Path: "/etc/hosts/x", Content: []byte("x\n"), Permissions: 0o644},
			err:  "write_files /etc/hosts/x: /etc/hosts is not a directory",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := newRoot(t), t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "target"), []byte("outside\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, root, outside)
			}
			before, beforeOut := snapshot(t, root), snapshot(t, outside)
			tc.file.Owner, tc.file.Group = "root", "root"
			// A good entry first: checked paths are all refused before any is written.
			good := WriteFile{Path: "/etc/first", Content: []byte("1\n"), Permissions: 0o644, Owner: "root", Group: "root"}
			var err error
			done := make(chan struct{})
			go func() { err = ApplyWriteFiles(root, []WriteFile{good, tc.file}); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("ApplyWriteFiles blocks")
			}
			want := strings.ReplaceAll(tc.err, "OUT", outside)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Errorf("root changed:\n%s", d)
			}
			if d := diffSnapshots(beforeOut, snapshot(t, outside)); d != "" {
				t.Errorf("outside the root changed:\n%s", d)
			}
		})
	}
}

// A link that appears after the check (a race) is still not followed:
// the write itself opens each directory with O_NOFOLLOW.
func TestWriteFileNoFollowAtWriteTime(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	symlink(t, outside, filepath.Join(root, "var"))
	plan := &filePlan{path: "/var/lib/x", perm: 0o644, owner: asCreated, replace: true, content: []byte("x")}
	err := plan.apply(root, true)
	if err == nil || !strings.HasPrefix(err.Error(), "/var is a symbolic link") {
		t.Fatalf("err = %v, want /var is a symbolic link", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written through the link: %v", entries)
	}
}

// ApplyWriteFiles takes only the absolute, clean paths Parse makes: a
// ".." element must not reach the root's parent.
func TestApplyWriteFilesRefusesUncleanPaths(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../escaped", "/a/../../escaped", "etc/x", "/"} {
		err := ApplyWriteFiles(root, []WriteFile{{Path: p, Content: []byte("x"), Permissions: 0o644, Owner: "root", Group: "root"}})
		if want := "not an absolute, clean file path"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("path %q: err = %v, want %q", p, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "../escaped")); !os.IsNotExist(err) {
		t.Errorf("a file was written above the root: %v", err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
