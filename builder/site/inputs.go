package site

import (
	"os"

	"github.com/ml-appliance/appliance/builder/charts"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// CheckInputs checks that the local files and directories a build reads
// are there and are what the config says: os.base.rootfs, os.kernel.deb,
// os.bootloader.efi, k3s.binary and k3s.airgap regular files, os.base.dir
// a directory, each charts[].path a chart Helm would load, the manifests
// Kubernetes objects K3s would apply (checkManifests). Its errors are *Error values at the field's line.
//
// Load leaves this out, so a config can be validated and its images listed
// on a machine that does not hold the inputs (the example configs name a
// base made by `make base`); `builder validate` and `builder build` run
// both, so a missing input fails before a build starts, not a minute in.
func (s *Site) CheckInputs() error {
	v := &validator{src: s.src, rep: &report{file: s.File}}
	for _, in := range []struct {
		field, path string
		dir         bool
	}{
		{"os.base.rootfs", s.OS.Base.Rootfs, false},
		{"os.base.dir", s.OS.Base.Dir, true},
		{"os.kernel.deb", s.OS.Kernel.Deb, false},
		{"os.bootloader.efi", s.OS.Bootloader.EFI, false},
		{"k3s.binary", s.K3s.Binary, false},
		{"k3s.airgap", s.K3s.Airgap, false},
	} {
		if in.path == "" || IsURL(in.path) {
			continue
		}
		fi, err := os.Stat(in.path)
		switch {
		case err != nil:
			v.errorf(in.field, "%s: %v", in.path, smallfile.Cause(err))
		case in.dir && !fi.IsDir():
			v.errorf(in.field, "%s is %s, not a directory", in.path, modeKind(fi.Mode()))
		case !in.dir && !fi.Mode().IsRegular():
			v.errorf(in.field, "%s is %s, not a regular file", in.path, modeKind(fi.Mode()))
		}
	}
	for i, c := range s.Charts {
		if c.Path == "" {
			continue
		}
		// Loaded as the build will (bounded, no symlink followed), so a
		// directory without Chart.yaml or a dependency not vendored fails
		// here.
		if _, err := charts.LoadLocal(c.Path); err != nil {
			v.errorf(index("charts", i)+".path", "%v", err)
		}
	}
	s.checkManifests(v)
	return v.rep.err()
}
