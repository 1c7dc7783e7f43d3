package imagestore

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ml-appliance/appliance/builder/progress"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

var epoch = time.Unix(1700000000, 0)

func writeArchive(t *testing.T, imgs []Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, imgs, WriteOptions{ModTime: epoch}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// untar extracts the archive into a directory, checking each header's
// fixed fields, and returns the entry names in order.
func untar(t *testing.T, archive []byte, dir string) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %s uid %d gid %d uname %q gname %q, want %s and root", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, epoch)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteArchive(t *testing.T) {
	f := newFixture(t)
	imgs := f.pull(t, f.refA, f.refB, f.refMulti)
	archive := writeArchive(t, imgs)
	dir := t.TempDir()
	names := untar(t, archive, dir)

	// Exactly the amd64 blobs and the index, each once, sorted.
	set := map[string]bool{"blobs/sha256/" + testfixture.Digest(t, f.multi).Hex: true}
	for _, img := range []v1.Image{f.appA, f.appB, f.multiAMD} {
		for _, d := range blobsOf(t, img) {
			set["blobs/sha256/"+d.Hex] = true
		}
	}
	var blobs []string
	for n := range set {
		blobs = append(blobs, n)
	}
	slices.Sort(blobs)
	want := append(append([]string{"blobs/", "blobs/sha256/"}, blobs...), "index.json", "oci-layout")
	if !slices.Equal(names, want) {
		t.Errorf("archive entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if got := slices.Index(names, "blobs/sha256/"+testfixture.Digest(t, f.base).Hex); got < 0 {
		t.Errorf("shared layer %s missing", testfixture.Digest(t, f.base))
	}
	for _, d := range blobsOf(t, f.arm) {
		if slices.Contains(names, "blobs/sha256/"+d.Hex) {
			t.Errorf("arm64 blob %s is in the archive", d)
		}
	}

	// index.json names each image once, by its tagged containerd name (K3s
	// adds name@<registry digest> itself: k3snames_test.go).
	var got []string
	for _, m := range indexIn(t, dir).Manifests {
		got = append(got, fmt.Sprintf("%s %s %s %s", m.Annotations[AnnotationImageName], m.Annotations[AnnotationRefName], m.MediaType, m.Digest))
	}
	a, b, multi := testfixture.Digest(t, f.appA), testfixture.Digest(t, f.appB), testfixture.Digest(t, f.multi)
	wantIdx := []string{
		f.host + "/library/multi:3.0 3.0 application/vnd.oci.image.index.v1+json " + multi.String(),
		f.host + "/team/app-a:1.0 1.0 application/vnd.oci.image.manifest.v1+json " + a.String(),
		f.host + "/team/app-b:2.0 2.0 application/vnd.oci.image.manifest.v1+json " + b.String(),
	}
	if !slices.Equal(got, wantIdx) {
		t.Errorf("index.json entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantIdx, "\n"))
	}

	// The extracted layout is valid for every amd64 image.
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []v1.Hash{a, b} {
		img, err := ii.Image(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("image %s: %v", d, err)
		}
	}
	mi, err := ii.ImageIndex(multi)
	if err != nil {
		t.Fatal(err)
	}
	amd, err := mi.Image(testfixture.Digest(t, f.multiAMD))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(amd); err != nil {
		t.Errorf("multi-arch amd64 image: %v", err)
	}

	var sum int64
	for _, img := range imgs {
		sum += img.Size
	}
	t.Logf("archive %d bytes for images totalling %d bytes (shared layer %d bytes)", len(archive), sum, mustSize(t, f.base))
	if int64(len(archive)) >= sum {
		t.Errorf("archive is %d bytes, not smaller than the images' %d", len(archive), sum)
	}
}

func mustSize(t *testing.T, l interface{ Size() (int64, error) }) int64 {
	t.Helper()
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteIsReproducible(t *testing.T) {
	f := newFixture(t)
	first := writeArchive(t, f.pull(t, f.refA, f.refB, f.refMulti))
	// Pulled again in another order, with a duplicate.
	again := writeArchive(t, f.pull(t, f.refMulti, f.refB, f.refA, f.refA))
	if !bytes.Equal(first, again) {
		t.Errorf("archives differ: %d and %d bytes", len(first), len(again))
	}
}

// TestIndexIsWhatWriteWrites: Index gives the archive's index.json byte
// for byte, and the names it lists, without writing the archive.
func TestIndexIsWhatWriteWrites(t *testing.T) {
	f := newFixture(t)
	imgs := f.pull(t, f.refMulti, f.refB, f.refA)
	index, names, err := Index(imgs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, writeArchive(t, imgs), dir)
	written, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || !bytes.Equal(index, written) {
		t.Errorf("Index:\n%s\nthe archive's index.json (%v):\n%s", index, err, written)
	}
	var want []string
	for _, img := range f.pull(t, f.refA, f.refB, f.refMulti) {
		want = append(want, img.Name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
}

func TestWriteDetectsCorruptBlob(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			imgs := f.pull(t, f.refA)
			m, err := f.appA.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			l := m.Layers[1]
			p := filepath.Join(f.cacheDir, "blobs", "sha256", l.Digest.Hex)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.corrupt(data)
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			wantErr := fmt.Sprintf("image %s: blob %s: ", f.refA, l.Digest)
			if tc.name == "truncated" {
				wantErr += fmt.Sprintf("content is %d bytes, want %d", l.Size-1, l.Size)
			} else {
				wantErr += "content is " + sha256Of(bad).String()
			}
			out := filepath.Join(t.TempDir(), "images.tar")
			err = WriteFile(out, imgs, WriteOptions{ModTime: epoch})
			if want := "write image archive " + out + ": " + wantErr; err == nil || err.Error() != want {
				t.Errorf("WriteFile error = %v\nwant %s", err, want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed write (stat: %v)", out, err)
			}
			var damaged *DamagedBlobError
			if !errors.As(err, &damaged) || damaged.Digest != l.Digest {
				t.Errorf("error %v does not name the damaged blob %s as a DamagedBlobError", err, l.Digest)
			}
		})
	}
}

func TestWriteCountsBlobsAndBytes(t *testing.T) {
	f := newFixture(t)
	imgs := f.pull(t, f.refA, f.refB, f.refMulti)
	var log bytes.Buffer
	terminal := false
	d := progress.New(&log, progress.Options{Terminal: &terminal})
	task := d.Task("write archive", 0, 0)
	var archive bytes.Buffer
	if err := Write(&archive, imgs, WriteOptions{ModTime: epoch, Progress: task}); err != nil {
		t.Fatal(err)
	}
	task.Done(nil)
	d.Close()
	blobs := 0
	for _, n := range untar(t, archive.Bytes(), t.TempDir()) {
		if strings.HasPrefix(n, "blobs/sha256/") && n != "blobs/sha256/" {
			blobs++
		}
	}
	want := fmt.Sprintf(`msg="task done" task="write archive" items=%d bytes="%.1f KiB"`, blobs, float64(archive.Len())/1024)
	if !strings.Contains(log.String(), want) {
		t.Errorf("progress lines:\n%s\nwant one containing %s", log.String(), want)
	}
}
