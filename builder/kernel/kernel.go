// Package kernel finds a Linux kernel image and its modules in a root
// filesystem tree, or in a Debian linux-image package.
//
// A tree is an fs.FS whose paths have no leading slash, as in
// "boot/vmlinuz-6.1.0-56-amd64". Merged-usr systems make /lib a symlink to
// usr/lib; since an fs.FS need not follow symlinks, the modules are looked
// for under usr/lib/modules/<version> first and lib/modules/<version> second.
//
// The initramfs builder takes a Kernel to copy modules from; the disk, ISO
// and PXE outputs take ImagePath to copy the kernel itself.
package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Kernel is one kernel found in a tree.
type Kernel struct {
	// Version is the kernel release, as in /lib/modules/<version>.
	Version string
	// ImagePath is the kernel image's path in FS, e.g. "boot/vmlinuz-6.1.0-56-amd64".
	ImagePath string
	// ModulesDir is the modules directory's path in FS, e.g.
	// "usr/lib/modules/6.1.0-56-amd64".
	ModulesDir string
	// FS is the tree the paths are relative to.
	FS fs.FS
}

const imagePrefix = "vmlinuz-"

// Find returns the one kernel in fsys: exactly one boot/vmlinuz-<version>
// and its modules directory. Several kernels, none, or a kernel without
// modules are errors naming what was found.
func Find(fsys fs.FS) (Kernel, error) {
	entries, err := fs.ReadDir(fsys, "boot")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Kernel{}, fmt.Errorf("find kernel: read boot: %w", err)
	}
	var images []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), imagePrefix) && !e.IsDir() {
			images = append(images, e.Name())
		}
	}
	sort.Strings(images)
	switch len(images) {
	case 0:
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return Kernel{}, fmt.Errorf("find kernel: no boot/vmlinuz-* (boot/ holds [%s])", strings.Join(names, " "))
	case 1:
	default:
		return Kernel{}, fmt.Errorf("find kernel: %d kernels, want exactly one: boot/%s", len(images), strings.Join(images, " boot/"))
	}
	version := strings.TrimPrefix(images[0], imagePrefix)
	k := Kernel{Version: version, ImagePath: path.Join("boot", images[0]), FS: fsys}
	candidates := []string{path.Join("usr/lib/modules", version), path.Join("lib/modules", version)}
	for _, dir := range candidates {
		fi, err := fs.Stat(fsys, dir)
		if err == nil && fi.IsDir() {
			k.ModulesDir = dir
			return k, nil
		}
	}
	return Kernel{}, fmt.Errorf("find kernel %s: no modules directory (looked for %s)", version, strings.Join(candidates, " and "))
}
