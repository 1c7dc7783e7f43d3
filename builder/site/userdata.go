package site

import (
	"bytes"

	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
)

// checkUserData reads the #cloud-config file at path as a node would, so
// a mistake in it fails the build with its file and line, not the boot.
//
// A file that is not a #cloud-config document is an error, and no message
// quotes it: the path may name any file the builder can read (a key, a
// password file), and a node would ignore it anyway.
func checkUserData(v *validator, field, path string) {
	data, err := readFile(path, MaxUserDataBytes)
	if err != nil {
		v.errorf(field, "%s: %v", path, err)
		return
	}
	if len(data) == 0 {
		v.errorf(field, "%s is empty", path)
		return
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if string(bytes.TrimRight(first, " \t\r")) != cloudconfig.Header {
		v.errorf(field, "%s line 1: not a %s document (its first line must be %s)", path, cloudconfig.Header, cloudconfig.Header)
		return
	}
	cfg, warnings, err := cloudconfig.Parse(path, data)
	if err != nil {
		v.errorf(field, "%v", err)
		return
	}
	for _, w := range warnings {
		v.warnf(field, "%s", w)
	}
	if cfg.Appliance.Role != "" {
		v.errorf(field, "%s sets appliance.role: the bundle sets each role's config's role itself", path)
	}
}
