package diskimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// sourceFile is a host file whose bytes go raw into a partition: the OS
// image into OS-A, the image payload into PAYLOAD.
type sourceFile struct {
	what string // "OS image", "image payload": for messages
	path string
	file *os.File
	size int64
}

// openSource opens the regular file at path (a symbolic link is followed;
// non-blocking, so that a FIFO is refused rather than waited on) and
// checks that it has magic at offset magicAt, so that a wrong file fails
// the build here rather than the boot on a node.
func openSource(what, path string, magicAt int64, magic []byte, kind string) (sourceFile, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return sourceFile{}, fmt.Errorf("open %s: %w", what, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return sourceFile{}, fmt.Errorf("stat %s: %w", what, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return sourceFile{}, fmt.Errorf("%s %s is %s, not a regular file", what, path, smallfile.Kind(info.Mode()))
	}
	got := make([]byte, len(magic))
	if _, err := f.ReadAt(got, magicAt); err != nil || !bytes.Equal(got, magic) {
		f.Close()
		return sourceFile{}, fmt.Errorf("%s %s is not %s (no %q magic)", what, path, kind, magic)
	}
	return sourceFile{what: what, path: path, file: f, size: info.Size()}, nil
}

// close closes the file, if one is open.
func (s sourceFile) close() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}

// copyChunk is how much copyTo copies between two looks at its context
// and two reports of progress: a few tens of milliseconds of disk time,
// and the most the hash of a disk being written waits behind its copy
// (see finishDisk).
const copyChunk = 64 << 20

// copyTo writes the file's bytes to disk at offset start, kernel to
// kernel: io.Copy from an *io.LimitedReader over an *os.File to an
// *os.File is (*os.File).ReadFrom, which on Linux hands the copy to
// copy_file_range(2) (os/zero_copy_linux.go, copyFileRange), so no byte
// passes through a buffer here, and a filesystem that shares extents
// (XFS, Btrfs) may not copy at all. It moves both files' offsets, which
// copy_file_range works from; disk's other writers use WriteAt, and its
// readers ReadAt. What the partition holds past size is not written: the
// sized disk file's hole reads as zeros. After each chunk it calls copied
// (if not nil) with the bytes copied so far; it stops between chunks when
// ctx is done, and fails unless it copied exactly size bytes.
func (s sourceFile) copyTo(ctx context.Context, disk *os.File, start int64, copied func(n int64)) error {
	if _, err := disk.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("copy %s %s: %w", s.what, s.path, err)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("copy %s %s: %w", s.what, s.path, err)
	}
	var done int64
	for done < s.size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.Copy(disk, io.LimitReader(s.file, min(copyChunk, s.size-done)))
		done += n
		if err != nil {
			return fmt.Errorf("copy %s %s: %w", s.what, s.path, err)
		}
		if n == 0 {
			return fmt.Errorf("copy %s %s: copied %d of %d bytes (did it shrink?)", s.what, s.path, done, s.size)
		}
		if copied != nil {
			copied(done)
		}
	}
	return nil
}

// closeSources closes every opened source.
func closeSources(srcs ...sourceFile) error {
	var errs []error
	for _, s := range srcs {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}
