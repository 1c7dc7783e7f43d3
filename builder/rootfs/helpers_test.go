package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

var modTime = time.Unix(1700000000, 0).UTC()

// tarEntry describes one entry of a test tarball or of a written stream.
type tarEntry struct {
	Name, Link string
	Type       byte
	Body       string
	MTime      int64
	UID        int
	Uname      string
	Xattrs     map[string]string
}

// makeTar builds an uncompressed tarball from entries, in the given order.
func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: 0o644,
			Size: int64(len(e.Body)), ModTime: time.Unix(e.MTime, 0), Uid: e.UID, Uname: e.Uname}
		if e.Type == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if hdr.Typeflag == tar.TypeDir {
			hdr.Mode = 0o755
		}
		for k, v := range e.Xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil && hdr.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readTar lists a written stream.
func readTar(t *testing.T, data []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		e := tarEntry{Name: hdr.Name, Link: hdr.Linkname, Type: hdr.Typeflag, Body: string(body),
			MTime: hdr.ModTime.Unix(), UID: hdr.Uid, Uname: hdr.Uname}
		for k, v := range hdr.PAXRecords {
			if len(k) > 13 && k[:13] == "SCHILY.xattr." {
				if e.Xattrs == nil {
					e.Xattrs = map[string]string{}
				}
				e.Xattrs[k[13:]] = v
			}
		}
		out = append(out, e)
	}
}

func names(entries []tarEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return out
}

// newTree returns a Tree closed at the end of the test.
func newTree(t *testing.T) *Tree {
	t.Helper()
	tr := New(Options{TempDir: t.TempDir()})
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return tr
}

func addTar(t *testing.T, tree *Tree, origin string, entries ...tarEntry) {
	t.Helper()
	if err := tree.AddTar(bytes.NewReader(makeTar(t, entries...)), origin); err != nil {
		t.Fatal(err)
	}
}

func writeTar(t *testing.T, tree *Tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tree.WriteTar(&buf, WriteOptions{ModTime: modTime}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
