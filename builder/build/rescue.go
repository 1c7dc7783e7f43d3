package build

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// rescueShellPath is where Debian's busybox-static puts its binary
// (/bin -> usr/bin in a merged-usr base).
const rescueShellPath = "usr/bin/busybox"

// rescueShell copies a static busybox from the base OS to scratch space for
// the initramfs (as its /bin/sh: busybox picks the applet from argv[0]).
// The initramfs has no C library, so a dynamically linked shell would not
// start: that is an error here rather than a dead rescue shell on a node.
func (b *pipeline) rescueShell(tree *rootfs.Tree) (string, error) {
	data, err := readBounded(tree, rescueShellPath, maxRescueShell)
	if err != nil {
		return "", fmt.Errorf("os.initramfs.rescueShell: the base OS has no /%s (install busybox-static in the base): %w", rescueShellPath, err)
	}
	if err := checkStatic(data); err != nil {
		return "", fmt.Errorf("os.initramfs.rescueShell: /%s: %w (install busybox-static, not busybox, in the base)", rescueShellPath, err)
	}
	dir, err := b.scratchDir("rescue")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "busybox")
	if err := writeStaged(dst, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("rescue shell: %w", err)
	}
	return dst, nil
}

// maxRescueShell bounds the busybox read from the base: Debian's
// busybox-static is about 2 MB.
const maxRescueShell = 64 << 20

// readBounded reads name from fsys, a regular file of at most max bytes.
func readBounded(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, max)
	}
	return data, nil
}

// checkStatic fails unless data is an ELF executable without a program
// interpreter (a dynamic loader).
func checkStatic(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(io.LimitReader(p.Open(), 256))
			return fmt.Errorf("dynamically linked (needs %s)", bytes.TrimRight(interp, "\x00"))
		}
	}
	return nil
}

// rescueCmdline is the kernel argument that lets the init start the shell.
var rescueCmdline = bootparam.ArgRescue + "=1"
