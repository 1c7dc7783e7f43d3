package site

import "strings"

// OS describes the operating system baked into the image.
type OS struct {
	Base       Base       `yaml:"base"`
	Kernel     Kernel     `yaml:"kernel"`
	Bootloader Bootloader `yaml:"bootloader"`
	// Cmdline is the kernel command line, one parameter per entry, before the
	// builder's own appliance.* parameters. Default DefaultCmdline; an
	// explicit empty list means none.
	Cmdline []string `yaml:"cmdline"`
	// Overlays are directories copied over the base, in order.
	Overlays  []string  `yaml:"overlays"`
	Initramfs Initramfs `yaml:"initramfs"`
}

// DefaultCmdline is the kernel command line when the config gives none.
var DefaultCmdline = []string{"console=tty0", "console=ttyS0,115200"}

// Base is the root filesystem the image starts from: exactly one of Rootfs,
// Dir or Image is set.
type Base struct {
	// Rootfs is a rootfs tar: a path or an http(s) URL.
	Rootfs string `yaml:"rootfs"`
	// SHA256 is the tar's digest: required for a URL, checked for a path.
	SHA256 string `yaml:"sha256"`
	// Dir is a directory holding the root filesystem.
	Dir string `yaml:"dir"`
	// Image is an OCI image reference with a tag or a digest.
	Image string `yaml:"image"`
}

// Kinds of base.
const (
	BaseRootfs = "rootfs"
	BaseDir    = "dir"
	BaseImage  = "image"
)

// Kind says which of Rootfs, Dir or Image is set ("" when none is).
func (b Base) Kind() string {
	switch k := b.kinds(); len(k) {
	case 1:
		return k[0]
	default:
		return ""
	}
}

func (b Base) kinds() []string {
	var k []string
	for _, f := range []struct{ name, value string }{{BaseRootfs, b.Rootfs}, {BaseDir, b.Dir}, {BaseImage, b.Image}} {
		if f.value != "" {
			k = append(k, f.name)
		}
	}
	return k
}

// Kernel is where the kernel and its modules come from. The zero Kernel
// means the kernel inside the base.
type Kernel struct {
	// Deb is a Debian linux-image .deb: a path or an http(s) URL.
	Deb string `yaml:"deb"`
	// SHA256 is the .deb's digest: required for a URL, checked for a path.
	SHA256 string `yaml:"sha256"`
}

// FromBase reports whether the kernel is the one inside the base.
func (k Kernel) FromBase() bool { return k.Deb == "" }

// Bootloader is the UEFI boot manager. The zero Bootloader means systemd-boot
// from the base, at DefaultBootloaderEFI.
type Bootloader struct {
	// EFI is a path to an EFI binary on the build host.
	EFI string `yaml:"efi"`
}

// DefaultBootloaderEFI is where the base holds systemd-boot (a path inside
// the base's root filesystem).
const DefaultBootloaderEFI = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"

// Initramfs configures the appliance's own initramfs.
type Initramfs struct {
	// Compression is CompressionGzip (default), CompressionZstd or CompressionNone.
	Compression string `yaml:"compression"`
	// Modules are kernel modules to load in early boot, besides those the
	// builder always includes; their dependencies come along.
	Modules []string `yaml:"modules"`
	// RescueShell adds a shell the init starts when booting fails.
	RescueShell bool `yaml:"rescueShell"`
}

// Initramfs compressions.
const (
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

func (o *OS) setDefaults(*Site) {
	if o.Cmdline == nil {
		o.Cmdline = append([]string(nil), DefaultCmdline...)
	}
	if o.Initramfs.Compression == "" {
		o.Initramfs.Compression = CompressionGzip
	}
	o.Base.SHA256 = strings.ToLower(o.Base.SHA256)
	o.Kernel.SHA256 = strings.ToLower(o.Kernel.SHA256)
}

func (o *OS) resolvePaths(dir string) {
	o.Base.Rootfs = resolve(dir, o.Base.Rootfs)
	o.Base.Dir = resolve(dir, o.Base.Dir)
	o.Kernel.Deb = resolve(dir, o.Kernel.Deb)
	o.Bootloader.EFI = resolve(dir, o.Bootloader.EFI)
	for i, p := range o.Overlays {
		o.Overlays[i] = resolve(dir, p)
	}
}
