package bootinit

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// FuzzParseConfig: whatever the kernel command line holds, ParseConfig
// does not panic, and what it accepts keeps to the grammars the builder
// writes (bootparam.CheckDevice for a device path, install and state disk
// targets that read back as themselves). Seeds: f.Add and the committed
// corpus under testdata/fuzz/FuzzParseConfig (the injections of issue 12).
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE",
		"appliance.os=ISO=ML_LAB:/appliance/os.squashfs appliance.state=disk:/dev/vda appliance.rescue=1 init=/bin/sh",
		"appliance.os=ISO=ML_LAB:/appliance/os.squashfs appliance.install=/dev/../sda,force",
		"appliance.os=/dev/vda\x00 appliance.state=tmpfs",
		"appliance.os=url:os.squashfs appliance.os.base=http://h/boot.ipxe appliance.os.sha256=" + strings.Repeat("a", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmdline string) {
		c, err := ParseConfig(cmdline)
		if err != nil {
			return
		}
		for _, s := range []Spec{c.OS, c.State} {
			if s.Key == "PATH" {
				if err := bootparam.CheckDevice(s.Value); err != nil {
					t.Fatalf("ParseConfig(%q) takes device %q: %v", cmdline, s.Value, err)
				}
			}
		}
		for _, tg := range []*bootparam.InstallTarget{c.Install, c.StateDisk} {
			if tg == nil {
				continue
			}
			if back, err := bootparam.ParseInstallTarget(tg.String()); err != nil || back != *tg {
				t.Fatalf("ParseConfig(%q) takes target %+v, which reads back as %+v, %v", cmdline, *tg, back, err)
			}
		}
	})
}
