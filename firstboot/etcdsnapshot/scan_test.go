package etcdsnapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLinksAndSpecialFiles: a symbolic link in the snapshot directory is
// not a snapshot and is not followed, even when it points at a large file
// and carries the newest name; a FIFO is skipped without being opened (an
// open would block), and so is a subdirectory.
func TestLinksAndSpecialFiles(t *testing.T) {
	root := serverRoot(t, false)
	writeFile(t, root, defaultSnapshots+"/etcd-snapshot-ctrl-1-1796558400", "real")
	writeFile(t, root, "/etc/shadow", strings.Repeat("s", 1<<20))
	dir := filepath.Join(root, defaultSnapshots)
	if err := os.Symlink(filepath.Join(root, "etc/shadow"), filepath.Join(dir, "etcd-snapshot-ctrl-1-1999999999")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "etcd-snapshot-ctrl-1-1999999998"), 0o600); err != nil {
		t.Fatal(err)
	}
	mkdir(t, root, defaultSnapshots+"/etcd-snapshot-ctrl-1-1999999997")

	st := Read(server(root))
	if st.State != StateFound || st.Count != 1 || st.File.Name != "etcd-snapshot-ctrl-1-1796558400" || st.File.Size != 4 {
		t.Errorf("Read = %+v, file %+v; want the one regular file", st, st.File)
	}
}

// TestLinkOnThePath: a snapshot directory that is, or lies under, a
// symbolic link is not read.
func TestLinkOnThePath(t *testing.T) {
	for _, link := range []string{defaultSnapshots, DefaultDataDir + "/server/db"} {
		t.Run(filepath.Base(link), func(t *testing.T) {
			root := t.TempDir()
			mkdir(t, root, "/elsewhere/snapshots")
			writeFile(t, root, "/elsewhere/snapshots/etcd-snapshot-x-1796558400", "x")
			mkdir(t, root, filepath.Dir(link))
			target := filepath.Join(root, "elsewhere")
			if filepath.Base(link) == "snapshots" {
				target = filepath.Join(root, "elsewhere/snapshots")
			}
			if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
				t.Fatal(err)
			}
			st := Read(server(root))
			want := "etcd snapshot: cannot tell: /var/lib/rancher/k3s/server/db/snapshots: a symbolic link is on the path, and firstboot status follows none"
			if st.State != StateError || st.Line() != want {
				t.Errorf("Read = %+v\n%s\nwant\n%s", st, st.Line(), want)
			}
		})
	}
}

// TestSnapshotDirNotADirectory: a file where the directory should be.
func TestSnapshotDirNotADirectory(t *testing.T) {
	root := serverRoot(t, false)
	writeFile(t, root, defaultSnapshots, "not a directory")
	if st := Read(server(root)); st.State != StateError || st.Error != defaultSnapshots+": not a directory" {
		t.Errorf("Read = %+v", st)
	}
}

// makeEntries fills dir with n snapshot files named with increasing times
// from base, in batches so a large n stays quick.
func makeEntries(t *testing.T, dir string, n int, base int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("etcd-snapshot-ctrl-1-%d", base+int64(i))), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// TestBoundedScan: a directory with more entries than the bound is read
// up to the bound only, and the line says so.
func TestBoundedScan(t *testing.T) {
	root := serverRoot(t, false)
	makeEntries(t, filepath.Join(root, defaultSnapshots), 250, 1796000000)
	o := server(root)
	o.MaxEntries = 100
	st := Read(o)
	if st.State != StateFound || st.Count != 100 || st.Scanned != 100 || !st.Truncated {
		t.Fatalf("Read = %+v", st)
	}
	if !strings.HasSuffix(st.Line(), "; 100 in /var/lib/rancher/k3s/server/db/snapshots; the directory holds more than the 100 entries read)") {
		t.Errorf("Line = %s", st.Line())
	}

	// Exactly the bound: nothing more to say.
	root = serverRoot(t, false)
	makeEntries(t, filepath.Join(root, defaultSnapshots), 100, 1796000000)
	o.Root = root
	if st := Read(o); st.Count != 100 || st.Truncated || st.File.Name != "etcd-snapshot-ctrl-1-1796000099" {
		t.Errorf("at the bound: %+v, file %+v", st, st.File)
	}
}

// TestHugeDirectory: with the real bound, a directory of more than
// MaxEntries entries stops the scan at MaxEntries and answers quickly.
func TestHugeDirectory(t *testing.T) {
	root := serverRoot(t, false)
	makeEntries(t, filepath.Join(root, defaultSnapshots), MaxEntries+500, 1700000000)
	start := time.Now()
	st := Read(server(root))
	took := time.Since(start)
	if st.Scanned != MaxEntries || st.Count != MaxEntries || !st.Truncated || st.File == nil {
		t.Errorf("Read = %+v", st)
	}
	if took > 10*time.Second {
		t.Errorf("Read took %s", took)
	}
}
