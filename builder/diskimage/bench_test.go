package diskimage

import (
	"archive/tar"
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/builder/report"
)

// BenchmarkWriteRawWithPayload writes a raw image with default partition
// sizes, a 256 MiB OS image (random bytes behind the squashfs magic: only
// the magic is checked) and no payload, a 1 GiB one or a 5 GB one
// (random, incompressible), with Write ("write"), with WriteHashed
// ("write+sha256": what the raw format does, the image's sha256 for the
// build report included) and with Write and then report.HashFile
// ("write+HashFile": the same result in two passes, as the raw format
// made it before WriteHashed), and reports the payload's share as MB/s. The
// fixtures are written before the timer starts and stay in the page
// cache; the image is synced to disk within the timed write, as Write
// does. Needs ~12 GB free in $TMPDIR for the 5 GB case.
func BenchmarkWriteRawWithPayload(b *testing.B) {
	dir := b.TempDir()
	osImage := filepath.Join(dir, "os.squashfs")
	writeRandomFile(b, osImage, 256<<20, func(w io.Writer) error { _, err := w.Write(squashfsMagic); return err })
	files, _ := testESPFiles(b)
	writers := []struct {
		name  string
		write func(path string, opts Options) error
	}{
		{"write", func(path string, opts Options) error {
			_, err := Write(context.Background(), path, opts)
			return err
		}},
		{"write+sha256", func(path string, opts Options) error {
			_, _, err := WriteHashed(context.Background(), path, opts)
			return err
		}},
		{"write+HashFile", func(path string, opts Options) error {
			if _, err := Write(context.Background(), path, opts); err != nil {
				return err
			}
			_, _, err := report.HashFile(path)
			return err
		}},
	}
	for _, c := range []struct {
		name string
		size int64
	}{{"none", 0}, {"1GiB", 1 << 30}, {"5GB", 5e9}} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{Seed: "bench", OSImage: osImage, ModTime: testModTime, ESPFiles: files}
			if c.size > 0 {
				opts.Payload = filepath.Join(dir, "payload.tar")
				writeTarPayload(b, opts.Payload, c.size)
				defer os.Remove(opts.Payload)
			}
			img := filepath.Join(dir, "disk.raw")
			defer os.Remove(img)
			for _, w := range writers {
				b.Run(w.name, func(b *testing.B) {
					b.SetBytes(c.size)
					for b.Loop() {
						if err := w.write(img, opts); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// writeTarPayload writes a tar of exactly size bytes: one member of
// random bytes, padded, and the end-of-archive blocks.
func writeTarPayload(b testing.TB, path string, size int64) {
	b.Helper()
	const overhead = 512 + 1024 // the header and the end-of-archive blocks
	member := (size - overhead) / 512 * 512
	writeRandomFile(b, path, member, func(w io.Writer) error {
		return tar.NewWriter(w).WriteHeader(&tar.Header{Name: "blobs/sha256/big", Mode: 0o644, Size: member, Typeflag: tar.TypeReg})
	})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, size-member-512)); err != nil {
		b.Fatal(err)
	}
}

// writeRandomFile writes head's bytes, then n random bytes.
func writeRandomFile(b testing.TB, path string, n int64, head func(io.Writer) error) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	if err := head(w); err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(w, rand.NewChaCha8([32]byte{14}), n); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
