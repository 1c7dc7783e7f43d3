package site

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

func (o *OS) validate(v *validator) {
	o.Base.validate(v)
	checkSource(v, "os.kernel.deb", o.Kernel.Deb, "os.kernel.sha256", o.Kernel.SHA256)
	if o.Kernel.Deb == "" && o.Kernel.SHA256 != "" {
		v.errorf("os.kernel.sha256", "given without deb")
	}
	if IsURL(o.Bootloader.EFI) {
		v.errorf("os.bootloader.efi", "want a path to an EFI binary, not a URL")
	}
	checkCmdline(v, o.Cmdline)
	for i, dir := range o.Overlays {
		checkOverlay(v, index("os.overlays", i), dir)
	}
	o.Initramfs.validate(v)
}

func (b *Base) validate(v *validator) {
	switch k := b.kinds(); len(k) {
	case 0:
		v.errorf("os.base", "required: one of rootfs, dir or image")
	case 1:
	default:
		v.errorf("os.base", "set only one of rootfs, dir or image (found %s)", strings.Join(k, " and "))
	}
	checkSource(v, "os.base.rootfs", b.Rootfs, "os.base.sha256", b.SHA256)
	if b.SHA256 != "" && b.Rootfs == "" && (b.Dir != "" || b.Image != "") {
		v.errorf("os.base.sha256", "only for rootfs (an image pins its digest in the reference: repo@sha256:...)")
	}
	if IsURL(b.Dir) {
		v.errorf("os.base.dir", "want a local directory, not a URL")
	}
	if b.Image != "" {
		if err := checkImageRef(b.Image); err != nil {
			v.errorf("os.base.image", "%v", err)
		}
	}
}

// checkImageRef accepts an OCI reference with an explicit tag or digest.
func checkImageRef(ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("invalid image reference %q: %v", ref, err)
	}
	if _, ok := r.(name.Digest); ok {
		return nil
	}
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		return fmt.Errorf("image reference %q has no tag or digest (want repo:tag or repo@sha256:...)", ref)
	}
	return nil
}

// builderArgs are kernel parameters the builder writes itself (initrd=
// by the boot loader for the initramfs it loads, or by the iPXE script).
var builderArgs = []string{bootparam.ArgOS, bootparam.ArgState, bootparam.ArgSlot,
	bootparam.ArgOSSHA256, bootparam.ArgOSBase, bootparam.ArgInstall, "initrd"}

// checkCmdline checks os.cmdline: each entry one argument of
// bootparam.CheckArg's grammar (the one every boot media writer enforces),
// none the builder's own, all of them together at most
// bootparam.MaxExtraLen bytes.
func checkCmdline(v *validator, cmdline []string) {
	total := 0
	for i, arg := range cmdline {
		checkCmdlineArg(v, index("os.cmdline", i), arg)
		total += len(arg) + 1
	}
	if total > bootparam.MaxExtraLen+1 {
		v.errorf("os.cmdline", "%d bytes together, more than %d: the kernel keeps %d bytes of command line, and the builder's own arguments need the rest",
			total-1, bootparam.MaxExtraLen, bootparam.MaxCmdlineLen)
	}
}

func checkCmdlineArg(v *validator, path, arg string) {
	if arg == "" {
		v.errorf(path, "empty parameter")
		return
	}
	if err := bootparam.CheckArg(arg); err != nil {
		if f := strings.Fields(arg); len(f) > 1 && allArgs(f) {
			v.errorf(path, "%q holds %d parameters: give one per list entry", arg, len(f))
		} else {
			v.errorf(path, "%v", err)
		}
		return
	}
	args := bootparam.ParseCmdline(arg)
	for _, reserved := range builderArgs {
		if _, ok := args[reserved]; ok {
			v.errorf(path, "%s is set by the builder", reserved)
		}
	}
	if disablesAppArmor(args) {
		v.warnf(path, "%q turns AppArmor off: containerd then refuses every pod that asks for an AppArmor profile (\"apparmor is not supported\"), and the node's host check warns", arg)
	}
}

// allArgs reports whether every one of args is a kernel argument.
func allArgs(args []string) bool {
	for _, a := range args {
		if bootparam.CheckArg(a) != nil {
			return false
		}
	}
	return true
}

// disablesAppArmor reports whether the kernel parameters turn AppArmor off:
// apparmor=0, security= naming another module, or an lsm= list without
// apparmor (Linux security/security.c, ordered_lsm_init; security/apparmor
// apparmor_enabled_setup).
func disablesAppArmor(args map[string]string) bool {
	if v, ok := args["apparmor"]; ok && v == "0" {
		return true
	}
	if v, ok := args["security"]; ok && v != "" && v != "apparmor" {
		return true
	}
	if v, ok := args["lsm"]; ok && !slices.Contains(strings.Split(v, ","), "apparmor") {
		return true
	}
	return false
}

func checkOverlay(v *validator, path, dir string) {
	if dir == "" {
		v.errorf(path, "empty path")
		return
	}
	if IsURL(dir) {
		v.errorf(path, "want a local directory, not a URL")
		return
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf(path, "%s: no such directory", dir)
	case err != nil:
		v.errorf(path, "%v", err)
	case !fi.IsDir():
		v.errorf(path, "%s: not a directory", dir)
	}
}

var moduleName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (i *Initramfs) validate(v *validator) {
	switch i.Compression {
	case CompressionGzip, CompressionZstd, CompressionNone:
	default:
		v.errorf("os.initramfs.compression", "unsupported %q (want gzip, zstd or none)", i.Compression)
	}
	seen := map[string]int{}
	for n, m := range i.Modules {
		p := index("os.initramfs.modules", n)
		if !moduleName.MatchString(m) {
			v.errorf(p, "invalid module name %q (want a name like \"nvme\", without directory or .ko)", m)
			continue
		}
		if first, ok := seen[m]; ok {
			v.errorf(p, "duplicate module %q (also %s)", m, index("os.initramfs.modules", first))
			continue
		}
		seen[m] = n
	}
}
