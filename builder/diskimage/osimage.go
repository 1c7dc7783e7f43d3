package diskimage

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// squashfsMagic starts every squashfs image ("hsqs", little-endian).
var squashfsMagic = []byte("hsqs")

// osImage is the opened OS image that goes to OS-A.
type osImage struct {
	path string
	file *os.File
	size int64
}

// openOSImage opens the squashfs at path and checks its magic, so that a
// wrong file fails the build here rather than the boot on a node.
func openOSImage(path string) (osImage, error) {
	f, err := os.Open(path)
	if err != nil {
		return osImage{}, fmt.Errorf("open OS image: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return osImage{}, fmt.Errorf("stat OS image: %w", err)
	}
	magic := make([]byte, len(squashfsMagic))
	if _, err := f.ReadAt(magic, 0); err != nil || !bytes.Equal(magic, squashfsMagic) {
		f.Close()
		return osImage{}, fmt.Errorf("OS image %s is not a squashfs image (no %q magic)", path, squashfsMagic)
	}
	return osImage{path: path, file: f, size: info.Size()}, nil
}

// copyTo writes the image's bytes to f at offset start.
func (img osImage) copyTo(f *os.File, start int64) error {
	n, err := io.Copy(io.NewOffsetWriter(f, start), io.NewSectionReader(img.file, 0, img.size))
	if err != nil {
		return fmt.Errorf("copy OS image %s: %w", img.path, err)
	}
	if n != img.size {
		return fmt.Errorf("copy OS image %s: copied %d of %d bytes", img.path, n, img.size)
	}
	return nil
}
