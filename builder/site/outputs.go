package site

// Outputs selects the artifacts a build makes. With none set, the build
// makes a raw disk image of the smallest size that fits.
type Outputs struct {
	// Raw is a GPT disk image to write to a disk or USB stick.
	Raw *RawOutput `yaml:"raw"`
}

// RawOutput configures the raw disk image.
type RawOutput struct {
	// Size of the image; 0 means the smallest that fits. STATE grows to fill
	// the real disk at first boot.
	Size Size `yaml:"size"`
}

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
}
