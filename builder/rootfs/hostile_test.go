package rootfs

import (
	"archive/tar"
	"bytes"
	"testing"
)

// TestAddTarHostile: a base tarball is data, kept in the tree and never
// unpacked on the host, so links in it reach nothing on the host; but a
// name leaving the root is refused, and an entry under a link or a hard
// link to a file the archive lacks are errors, not lookups on the host.
func TestAddTarHostile(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{
			name:    "../ name",
			entries: []tarEntry{{Name: "../../etc/cron.d/x", Body: "pwned"}},
			want:    `read tar base: "../../etc/cron.d/x" leaves the root`,
		},
		{
			name:    ".. inside a name",
			entries: []tarEntry{{Name: "./usr/../../x", Body: "pwned"}},
			want:    `read tar base: "./usr/../../x" leaves the root`,
		},
		{
			name:    "symlink then a file under it",
			entries: []tarEntry{{Name: "a", Link: "/etc", Type: tar.TypeSymlink}, {Name: "a/x", Body: "pwned"}},
			want:    "add a/x from base: parent a is not a directory",
		},
		{
			name:    "hard link to /etc/passwd",
			entries: []tarEntry{{Name: "h", Link: "/etc/passwd", Type: tar.TypeLink}},
			want:    "read tar base: hard link h -> /etc/passwd: target not in tree",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := New(Options{TempDir: t.TempDir()})
			defer tree.Close()
			err := tree.AddTar(bytes.NewReader(makeTar(t, tt.entries...)), "base")
			if err == nil || err.Error() != tt.want {
				t.Errorf("AddTar error = %v, want %s", err, tt.want)
			}
		})
	}
}
