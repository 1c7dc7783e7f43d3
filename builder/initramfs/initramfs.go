// Package initramfs packs the appliance's initramfs: the Go init as /init,
// the kernel modules early boot needs (with their dependencies, built-ins
// left out) and the list of modules in load order that the init reads from
// bootparam.InitramfsModuleOrder.
//
// The archive is a newc cpio, gzip- or zstd-compressed or plain. It is
// reproducible: entries are sorted, owned by 0:0 and carry Options.ModTime.
package initramfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/zstd"

	"github.com/ml-appliance/appliance/builder/kernel"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Compression of the cpio archive.
type Compression string

// Compressions the kernel unpacks (Debian kernels have RD_GZIP and RD_ZSTD).
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

// Options says what goes into the initramfs.
type Options struct {
	// Init is the host path of the static init binary, packed as /init.
	Init string
	// RescueShell, if set, is the host path of a static shell packed at
	// bootparam.InitramfsRescueShell.
	RescueShell string
	// Kernel supplies the modules.
	Kernel kernel.Kernel
	// Modules are module names ("-" and "_" are equivalent); nil means
	// DefaultModules, an empty non-nil slice means none.
	Modules []string
	// Compression defaults to Gzip.
	Compression Compression
	// ModTime is every entry's mtime (derive it from SOURCE_DATE_EPOCH);
	// the zero time means the Unix epoch.
	ModTime time.Time
}

// entry is one file of the archive, held in memory.
type entry struct {
	mode cpio.FileMode
	data []byte
}

// Build writes the initramfs to w.
func Build(w io.Writer, opts Options) error {
	entries, err := collect(opts)
	if err != nil {
		return err
	}
	var zw io.WriteCloser
	switch opts.Compression {
	case "", Gzip:
		zw, err = gzip.NewWriterLevel(w, gzip.BestCompression)
	case Zstd:
		zw, err = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	case None:
		zw = nopCloser{w}
	default:
		return fmt.Errorf("initramfs: unknown compression %q (want gzip, zstd or none)", opts.Compression)
	}
	if err != nil {
		return fmt.Errorf("initramfs: %s writer: %w", opts.Compression, err)
	}
	if err := writeCpio(zw, entries, opts.ModTime); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: finish compression: %w", err)
	}
	return nil
}

// BuildFile writes the initramfs to a temporary file beside path and
// renames it to path when complete.
func BuildFile(path string, opts Options) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := Build(tmp, opts); err != nil {
		tmp.Close()
		return fmt.Errorf("initramfs %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("initramfs %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("initramfs %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("initramfs %s: %w", path, err)
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// collect gathers every file of the archive by its path (no leading slash).
func collect(opts Options) (map[string]entry, error) {
	entries := map[string]entry{}
	init, err := os.ReadFile(opts.Init)
	if err != nil {
		return nil, fmt.Errorf("initramfs: read init: %w", err)
	}
	entries["init"] = entry{mode: 0o755, data: init}
	if opts.RescueShell != "" {
		sh, err := os.ReadFile(opts.RescueShell)
		if err != nil {
			return nil, fmt.Errorf("initramfs: read rescue shell: %w", err)
		}
		entries[strings.TrimPrefix(bootparam.InitramfsRescueShell, "/")] = entry{mode: 0o755, data: sh}
	}
	requested := opts.Modules
	if requested == nil {
		requested = DefaultModules
	}
	var order []string
	if len(requested) > 0 {
		idx, err := newModuleIndex(opts.Kernel)
		if err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		names, err := idx.loadOrder(requested)
		if err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		for _, name := range names {
			data, err := idx.content(name)
			if err != nil {
				return nil, fmt.Errorf("initramfs: %w", err)
			}
			rel := idx.files[name]
			rel = rel[:strings.LastIndex(rel, ".ko")+len(".ko")]
			p := path.Join("lib/modules", opts.Kernel.Version, rel)
			entries[p] = entry{mode: 0o644, data: data}
			order = append(order, "/"+p+"\n")
		}
	}
	entries[strings.TrimPrefix(bootparam.InitramfsModuleOrder, "/")] = entry{mode: 0o644, data: []byte(strings.Join(order, ""))}
	for p := range entries {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			entries[d] = entry{mode: cpio.TypeDir | 0o755}
		}
	}
	return entries, nil
}

func writeCpio(w io.Writer, entries map[string]entry, modTime time.Time) error {
	if modTime.IsZero() {
		modTime = time.Unix(0, 0)
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)
	cw := cpio.NewWriter(w)
	for _, p := range names {
		e := entries[p]
		h := &cpio.Header{Name: p, Mode: e.mode, ModTime: modTime, Size: int64(len(e.data))}
		if e.mode.IsDir() {
			h.Links = 2
		}
		if err := cw.WriteHeader(h); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", p, err)
		}
		if _, err := io.Copy(cw, bytes.NewReader(e.data)); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", p, err)
		}
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("initramfs: close cpio: %w", err)
	}
	return nil
}
