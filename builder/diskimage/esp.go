package diskimage

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
)

// copyBufferSize is the size of the writes into the FAT: go-diskfs walks a
// file's cluster chain on every write, so few large writes are much faster.
const copyBufferSize = 4 * MiB

// writeESP makes the FAT32 filesystem of the ESP partition and writes the
// ESP files into it, then fixes its timestamps and volume ID.
func writeESP(f *os.File, esp Partition, opts Options) error {
	fs, err := fat32.Create(file.New(f, false), esp.Size, esp.Start, sectorSize, esp.Label, true)
	if err != nil {
		return fmt.Errorf("create FAT32: %w", err)
	}
	files := slices.Clone(opts.ESPFiles)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(cleanESPPath(a.Path), cleanESPPath(b.Path)) })
	buf := make([]byte, copyBufferSize)
	for _, ef := range files {
		if err := writeESPFile(fs, ef, buf); err != nil {
			return err
		}
	}
	if err := fixFAT32(f, esp.Start, derivedUint32(opts.Seed, idFATVolume), opts.ModTime); err != nil {
		return fmt.Errorf("fix FAT32: %w", err)
	}
	return nil
}

// cleanESPPath is p as an absolute slash path.
func cleanESPPath(p string) string {
	return path.Clean("/" + p)
}

func writeESPFile(fs *fat32.FileSystem, ef File, buf []byte) error {
	p := cleanESPPath(ef.Path)
	if dir := path.Dir(p); dir != "/" {
		if err := fs.Mkdir(dir); err != nil {
			return fmt.Errorf("create ESP directory %s: %w", dir, err)
		}
	}
	var src io.Reader = bytes.NewReader(ef.Data)
	if ef.Source != "" {
		hf, err := os.Open(ef.Source)
		if err != nil {
			return fmt.Errorf("open ESP file source: %w", err)
		}
		defer hf.Close()
		// Hide (*os.File).WriteTo so that CopyBuffer uses buf.
		src = struct{ io.Reader }{hf}
	}
	out, err := fs.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("create ESP file %s: %w", p, err)
	}
	if _, err := io.CopyBuffer(out, src, buf); err != nil {
		out.Close()
		return fmt.Errorf("write ESP file %s: %w", p, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close ESP file %s: %w", p, err)
	}
	return nil
}
