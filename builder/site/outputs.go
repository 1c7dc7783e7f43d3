package site

import "github.com/ml-appliance/appliance/firstboot/bootparam"

// Outputs selects the artifacts a build makes. With none set, the build
// makes a raw disk image of the smallest size that fits.
type Outputs struct {
	// Raw is a GPT disk image to write to a disk or USB stick.
	Raw *RawOutput `yaml:"raw"`
	// ISO is a hybrid ISO image: a CD/DVD or, written to a USB stick, a
	// disk, bootable under BIOS and UEFI, that boots the appliance live.
	ISO *ISOOutput `yaml:"iso"`
	// PXE is a netboot bundle (<output>/pxe/) for `builder serve --pxe`:
	// kernel, initrd, OS image and an iPXE script; the node downloads the
	// OS image into RAM and keeps state in RAM.
	PXE *PXEOutput `yaml:"pxe"`
}

// RawOutput configures the raw disk image.
type RawOutput struct {
	// Size of the image; 0 means the smallest that fits. STATE grows to fill
	// the real disk at first boot.
	Size Size `yaml:"size"`
}

// ISOOutput configures the ISO image. `iso: {}` boots live: the OS image
// is read from the ISO and state lives in RAM.
type ISOOutput struct {
	// Install makes an installer: booting the ISO writes the raw disk
	// layout to a local disk, verifies it and reboots into it.
	Install *ISOInstall `yaml:"install"`
}

// PXEOutput configures the PXE bundle; it has no settings yet (`pxe: {}`).
type PXEOutput struct{}

// ISOInstall chooses the disk an installer ISO writes to.
type ISOInstall struct {
	// Device is "auto" (the default: the first empty non-removable disk),
	// /dev/disk/by-id/<name> or /dev/<name>.
	Device string `yaml:"device"`
	// Force overwrites a disk that holds data; without it the installer
	// says what the disk holds, writes nothing and boots live.
	Force bool `yaml:"force"`
}

// Target is the install target as the kernel command line carries it.
func (i ISOInstall) Target() bootparam.InstallTarget {
	return bootparam.InstallTarget{Device: i.Device, Force: i.Force}
}

// sectorSize is the raw image's logical sector size.
const sectorSize = 512

func (o *Outputs) setDefaults(*Site) {
	if *o == (Outputs{}) {
		o.Raw = &RawOutput{}
	}
	if o.ISO != nil && o.ISO.Install != nil && o.ISO.Install.Device == "" {
		o.ISO.Install.Device = bootparam.InstallAuto
	}
}

func (o *Outputs) validate(v *validator) {
	if o.Raw != nil && o.Raw.Size%sectorSize != 0 {
		v.errorf("outputs.raw.size", "%d bytes is not a multiple of the %d-byte sector", uint64(o.Raw.Size), sectorSize)
	}
	if o.ISO != nil && o.ISO.Install != nil {
		if _, err := bootparam.ParseInstallTarget(o.ISO.Install.Target().String()); err != nil {
			v.errorf("outputs.iso.install.device", "%q: want %s, /dev/disk/by-id/<name> or /dev/<name>", o.ISO.Install.Device, bootparam.InstallAuto)
		}
	}
}
