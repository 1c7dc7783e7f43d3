package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ml-appliance/appliance/builder/kernel"
)

// DefaultModules are the modules an appliance loads in early boot when
// Options.Modules is nil: disk and CD controllers (AHCI, and ata_piix for
// the IDE CD drives of older machines and QEMU's default PC), virtio, USB
// storage and the filesystems the init mounts (isofs and loop for a live
// boot from an ISO).
var DefaultModules = []string{
	"virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net", "nvme", "ahci", "ata_piix",
	"sd_mod", "sr_mod", "usb_storage", "uas", "xhci_pci", "ehci_pci",
	"isofs", "squashfs", "ext4", "vfat", "nls_cp437", "nls_iso8859_1",
	"loop", "overlay",
}

// EssentialModules are the DefaultModules every appliance kernel must
// provide (as modules or built in): the filesystems the init mounts to boot
// at all. The rest of DefaultModules are drivers a given kernel may lack.
var EssentialModules = []string{"squashfs", "overlay", "ext4"}

// moduleSuffixes are the file name endings of kernel modules, compressed or not.
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// moduleName turns a module file name or alias into its canonical name:
// no directory, no suffix, "-" spelled "_" as the kernel does.
func moduleName(p string) (string, bool) {
	base := path.Base(p)
	for _, s := range moduleSuffixes {
		if strings.HasSuffix(base, s) {
			return strings.ReplaceAll(strings.TrimSuffix(base, s), "-", "_"), true
		}
	}
	return "", false
}

func canonical(name string) string { return strings.ReplaceAll(name, "-", "_") }

// moduleIndex knows the modules of one kernel: where each file is, what
// each depends on, and which are built in.
type moduleIndex struct {
	k       kernel.Kernel
	files   map[string]string   // name -> path relative to ModulesDir
	deps    map[string][]string // name -> dependency names; nil when read lazily from .modinfo
	builtin map[string]bool
	softPre map[string][]string // name -> modules to load before it (soft dependencies)
	// maxModule bounds one module decompressed, maxRead all the
	// decompressed bytes content returns, so that a hostile kernel package
	// (a module that is an xz bomb, a modules.dep naming thousands) cannot
	// exhaust the build host's memory.
	maxModule, maxRead, read int64
}

// The bounds of moduleIndex, far above real modules: the largest of Debian
// 12's linux-image-6.1.0-57-amd64 is amdgpu.ko at 19 MB, and an initramfs
// loads a few megabytes of storage and filesystem drivers.
const (
	maxModuleBytes     = 256 << 20
	maxModuleReadBytes = 1 << 30
)

func newModuleIndex(k kernel.Kernel) (*moduleIndex, error) {
	idx := &moduleIndex{k: k, files: map[string]string{}, builtin: map[string]bool{},
		maxModule: maxModuleBytes, maxRead: maxModuleReadBytes}
	err := fs.WalkDir(k.FS, k.ModulesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := moduleName(p); ok && !d.IsDir() {
			idx.files[name] = strings.TrimPrefix(p, k.ModulesDir+"/")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk modules of kernel %s: %w", k.Version, err)
	}
	if err := idx.readLines("modules.builtin", func(line string) {
		if name, ok := moduleName(line); ok {
			idx.builtin[name] = true
		}
	}); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	deps := map[string][]string{}
	err = idx.readLines("modules.dep", func(line string) {
		mod, rest, ok := strings.Cut(line, ":")
		name, okName := moduleName(mod)
		if !ok || !okName {
			return
		}
		deps[name] = []string{}
		for _, d := range strings.Fields(rest) {
			if dn, ok := moduleName(d); ok {
				deps[name] = append(deps[name], dn)
			}
		}
	})
	switch {
	case err == nil:
		idx.deps = deps
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := idx.readSoftdeps(); err != nil {
		return nil, err
	}
	return idx, nil
}

func (idx *moduleIndex) readLines(name string, fn func(string)) error {
	p := path.Join(idx.k.ModulesDir, name)
	data, err := fs.ReadFile(idx.k.FS, p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			fn(line)
		}
	}
	return sc.Err()
}

// dependencies returns the names a module needs loaded first, from
// modules.dep or else the module's own .modinfo "depends=".
func (idx *moduleIndex) dependencies(name string) ([]string, error) {
	if idx.deps != nil {
		return idx.deps[name], nil
	}
	data, err := idx.content(name)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", idx.files[name], err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s: no .modinfo section", idx.files[name])
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: read .modinfo: %w", idx.files[name], err)
	}
	var deps []string
	for _, field := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(field, []byte("depends=")); ok {
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, canonical(d))
				}
			}
		}
	}
	return deps, nil
}

// content returns a module's ELF bytes, decompressed.
func (idx *moduleIndex) content(name string) ([]byte, error) {
	rel := idx.files[name]
	p := path.Join(idx.k.ModulesDir, rel)
	f, err := idx.k.FS.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open module %s: %w", p, err)
	}
	defer f.Close()
	var r io.Reader = f
	switch path.Ext(rel) {
	case ".xz":
		r, err = xz.NewReader(f)
	case ".zst":
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(f)
		if err == nil {
			defer zr.Close()
			r = zr
		}
	case ".gz":
		r, err = gzip.NewReader(f)
	}
	if err != nil {
		return nil, fmt.Errorf("decompress module %s: %w", p, err)
	}
	data, err := io.ReadAll(io.LimitReader(r, idx.maxModule+1))
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", p, err)
	}
	if int64(len(data)) > idx.maxModule {
		return nil, fmt.Errorf("module %s: more than %d bytes decompressed", p, idx.maxModule)
	}
	if idx.read += int64(len(data)); idx.read > idx.maxRead {
		return nil, fmt.Errorf("module %s: the modules read reach more than %d bytes decompressed", p, idx.maxRead)
	}
	return data, nil
}

// loadOrder returns the modules to pack for the requested names, every
// module after its dependencies. Built-in modules are skipped; names that
// are neither a module nor built in are reported together.
func (idx *moduleIndex) loadOrder(requested []string) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var order, missing []string
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch {
		case state[name] == done:
			return nil
		case state[name] == visiting:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(chain, " -> "), name)
		case idx.builtin[name]:
			state[name] = done
			return nil
		case idx.files[name] == "":
			state[name] = done
			missing = append(missing, name)
			return nil
		}
		state[name] = visiting
		deps, err := idx.dependencies(name)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		for _, d := range idx.softPre[name] {
			if state[d] == visiting {
				continue // soft dependencies may loop; they only order loading
			}
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, name := range requested {
		if err := visit(canonical(name), nil); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("kernel %s has neither a module file nor a built-in for: %s", idx.k.Version, strings.Join(missing, ", "))
	}
	return order, nil
}

// Available splits names into the modules kernel k can provide (as a module
// file or built in) and those it cannot. The builder passes DefaultModules
// through it: a kernel without, say, USB storage still boots from disk,
// while a module the operator names explicitly must exist.
func Available(k kernel.Kernel, names []string) (present, absent []string, err error) {
	idx, err := newModuleIndex(k)
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: %w", err)
	}
	for _, n := range names {
		c := canonical(n)
		if idx.builtin[c] || idx.files[c] != "" {
			present = append(present, n)
		} else {
			absent = append(absent, n)
		}
	}
	return present, absent, nil
}
