package upgrade

import (
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// espPath is the path of the ESP file rel.
func espPath(e *ESP, rel string) string { return filepath.Join(e.Dir, filepath.FromSlash(rel)) }

// chosenSlot is the slot systemd-boot would boot from the ESP as it is
// (bootslot.Choose, the model of systemd-boot v252's choice), "nothing"
// when no entry is left.
func chosenSlot(t *testing.T, e *ESP) string {
	t.Helper()
	installed, err := e.Installed()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := bootslot.Choose(installed)
	if !ok {
		return "nothing"
	}
	return s.Name
}

// installSlot writes s's kernel, initramfs and loader entry, named name,
// for release r with generation gen, and loader.conf: an ESP as the
// builder or an earlier upgrade left it.
func installSlot(t *testing.T, e *ESP, s bootslot.Slot, r upgradebundle.Release, gen int, name bootslot.EntryName) {
	t.Helper()
	options, err := bootslot.Options(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := bootslot.Entry{Slot: s, Site: r.Site, Release: r.Version, Generation: gen, KernelVersion: r.KernelVersion, Options: options}.Render()
	if err != nil {
		t.Fatal(err)
	}
	for rel, content := range map[string][]byte{
		s.KernelPath():                          []byte("kernel " + r.Version),
		s.InitrdPath():                          []byte("initrd " + r.Version),
		bootslot.EntriesDir + "/" + name.File(): data,
		bootslot.LoaderConfPath:                 []byte(bootslot.LoaderConf()),
	} {
		writeUnder(t, e.Dir, rel, content)
	}
}

// fullESP is a test double of an ESP with little room left: the real ESP
// (type ESP over a directory) but for what Free says.
type fullESP struct {
	*ESP
	free int64
}

func (f fullESP) Free() (int64, error) { return f.free, nil }
