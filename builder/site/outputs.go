package site

// Outputs selects the artifacts a build makes. With none set, the build
// makes a raw disk image of the smallest size that fits.
type Outputs struct {
	// Raw is a GPT disk image to write to a disk or USB stick.
	Raw *RawOutput `yaml:"raw"`
	// ISO is a hybrid ISO image: a CD/DVD or, written to a USB stick, a
	// disk, bootable under BIOS and UEFI, that boots the appliance live.
	ISO *ISOOutput `yaml:"iso"`
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
	// Install is reserved for an installer mode (write the appliance to a
	// local disk); setting it is an error until it exists.
	Install *ISOInstall `yaml:"install"`
}

// ISOInstall is reserved; it has no settings yet.
type ISOInstall struct{}

// sectorSize is the raw image's logical sector size.
const sectorSize = 512

func (o *Outputs) setDefaults(*Site) {
	if *o == (Outputs{}) {
		o.Raw = &RawOutput{}
	}
}

func (o *Outputs) validate(v *validator) {
	if o.Raw != nil && o.Raw.Size%sectorSize != 0 {
		v.errorf("outputs.raw.size", "%d bytes is not a multiple of the %d-byte sector", uint64(o.Raw.Size), sectorSize)
	}
	if o.ISO != nil && o.ISO.Install != nil {
		v.errorf("outputs.iso.install", "not supported yet: the ISO boots live only (use iso: {})")
	}
}
