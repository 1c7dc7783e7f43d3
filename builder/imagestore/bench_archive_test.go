package imagestore

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

// archiveUnit sizes the image set of BenchmarkArchiveWrite and
// BenchmarkPull: 11 units, 352 MiB of distinct layers.
const archiveUnit = 32 << 20

// BenchmarkArchiveWrite writes an archive of six images (352 MiB of
// distinct, incompressible layers, shared layers written once) from a warm
// cache to a file and fsyncs it; ns/op is that. Against the same
// filesystem it measures two baselines, untimed in ns/op but reported:
//
//   - copy-MB/s: the same blobs read from the cache and copied into one
//     file (user-space read/write with io.Copy's 32 KiB buffer, no tar, no
//     hashing), then fsync: the fair limit for collection, which must read
//     the cache too;
//   - copy1M-MB/s: the same copy through a 1 MiB buffer, the size Write
//     copies through (hashcopy.go), so archive/copy1M shows what hashing
//     and tar still cost once buffer size is equal;
//   - disk-MB/s: as many bytes written sequentially from memory, then
//     fsync: the disk-write limit.
//
// archive/copy and archive/disk are the ratios (1 = as fast as the
// baseline). MB is 10^6 bytes, as in Go's MB/s.
func BenchmarkArchiveWrite(b *testing.B) {
	dir := b.TempDir()
	host := testfixture.DiskRegistry(b, filepath.Join(dir, "registry"))
	refs, _ := pushBenchImages(b, host, archiveUnit)
	imgs := pullInto(b, filepath.Join(dir, "cache"), refs)
	_, blobs, err := plan(imgs)
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "images.tar")
	var archive, cp, cp1M, raw time.Duration
	var size int64
	var n int
	for b.Loop() {
		start := time.Now()
		if err := WriteFile(out, imgs, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		size = syncFile(b, out)
		archive += time.Since(start)

		b.StopTimer()
		removeFile(b, out)
		start = time.Now()
		copyBlobs(b, out, blobs, 32<<10)
		cp += time.Since(start)
		removeFile(b, out)
		start = time.Now()
		copyBlobs(b, out, blobs, copyChunk)
		cp1M += time.Since(start)
		removeFile(b, out)
		start = time.Now()
		writeSequential(b, out, size)
		raw += time.Since(start)
		removeFile(b, out)
		n++
		b.StartTimer()
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(n) / 1e6 / d.Seconds() }
	b.ReportMetric(mbps(archive), "archive-MB/s")
	b.ReportMetric(mbps(cp), "copy-MB/s")
	b.ReportMetric(mbps(cp1M), "copy1M-MB/s")
	b.ReportMetric(mbps(raw), "disk-MB/s")
	b.ReportMetric(cp.Seconds()/archive.Seconds(), "archive/copy")
	b.ReportMetric(cp1M.Seconds()/archive.Seconds(), "archive/copy1M")
	b.ReportMetric(raw.Seconds()/archive.Seconds(), "archive/disk")
}

// BenchmarkPull pulls the six images of BenchmarkArchiveWrite from a
// registry on 127.0.0.1 (blobs served from files) into an empty cache;
// MB/s counts distinct layer bytes. The cache does not fsync, so this is
// the pull's own speed, not the disk's.
func BenchmarkPull(b *testing.B) {
	dir := b.TempDir()
	host := testfixture.DiskRegistry(b, filepath.Join(dir, "registry"))
	refs, distinct := pushBenchImages(b, host, archiveUnit)
	b.SetBytes(distinct)
	for b.Loop() {
		b.StopTimer()
		cacheDir, err := os.MkdirTemp(dir, "cache-")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		pullInto(b, cacheDir, refs)
		b.StopTimer()
		if err := os.RemoveAll(cacheDir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// pullInto pulls refs through a Store on a cache in cacheDir.
func pullInto(tb testing.TB, cacheDir string, refs []string) []Image {
	tb.Helper()
	c, err := cache.New(cache.Options{Dir: cacheDir})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Options{Cache: c})
	if err != nil {
		tb.Fatal(err)
	}
	imgs, err := s.Pull(context.Background(), refs)
	if err != nil {
		tb.Fatal(err)
	}
	if len(imgs) != len(refs) {
		tb.Fatalf("pulled %d images, want %d", len(imgs), len(refs))
	}
	return imgs
}

// syncFile fsyncs path and returns its size.
func syncFile(tb testing.TB, path string) int64 {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		tb.Fatalf("fsync %s: %v", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// copyBlobs copies the content of blobs into one file at path through a
// buffer of bufSize bytes and fsyncs it. Reader and writer are hidden
// behind plain interfaces so io.CopyBuffer reads and writes through the
// buffer as Write does, rather than letting the kernel copy
// (copy_file_range) file to file.
func copyBlobs(tb testing.TB, path string, blobs []*blob, bufSize int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := struct{ io.Writer }{f}
	buf := make([]byte, bufSize)
	for _, bl := range blobs {
		if bl.raw != nil {
			if _, err := w.Write(bl.raw); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		rc, err := bl.open()
		if err != nil {
			tb.Fatal(err)
		}
		n, err := io.CopyBuffer(w, struct{ io.Reader }{rc}, buf)
		rc.Close()
		if err != nil || n != bl.size {
			tb.Fatalf("copy blob %s: %d of %d bytes: %v", bl.digest, n, bl.size, err)
		}
	}
	if err := f.Sync(); err != nil {
		tb.Fatalf("fsync %s: %v", path, err)
	}
}

// writeSequential writes size random bytes (1 MiB repeated) to path and
// fsyncs it.
func writeSequential(tb testing.TB, path string, size int64) {
	tb.Helper()
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		tb.Fatalf("fsync %s: %v", path, err)
	}
}

func removeFile(tb testing.TB, path string) {
	tb.Helper()
	if err := os.Remove(path); err != nil {
		tb.Fatal(err)
	}
}
