package raw

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

func TestESPFilesBootSlotAWithApplianceArguments(t *testing.T) {
	in := output.Inputs{
		Name: "ml-lab", Release: "1.4.0", KernelVersion: "6.1.0-56-amd64",
		Kernel: "/k/vmlinuz", Initramfs: "/k/initrd", Bootloader: "/k/sd-boot.efi",
		Cmdline: []string{"console=ttyS0,115200"},
	}
	got, sources := espFiles(t, in)
	wantSources := map[string]string{
		"EFI/BOOT/BOOTX64.EFI":            "/k/sd-boot.efi",
		"appliance/a/vmlinuz":             "/k/vmlinuz",
		"appliance/a/initrd.img":          "/k/initrd",
		"loader/loader.conf":              "",
		"loader/entries/appliance-a.conf": "",
	}
	if len(sources) != len(wantSources) {
		t.Fatalf("ESP files %v, want %v (no slot B entry: its files do not exist yet)", sources, wantSources)
	}
	for p, s := range wantSources {
		if src, ok := sources[p]; !ok || src != s {
			t.Errorf("%s: source %q (listed %v), want %q", p, src, ok, s)
		}
	}
	if want := "default appliance-*\ntimeout 0\neditor no\n"; got["loader/loader.conf"] != want {
		t.Errorf("loader.conf:\n%s\nwant:\n%s", got["loader/loader.conf"], want)
	}
	wantA := "title ml-lab 1.4.0 (slot a, kernel 6.1.0-56-amd64)\nsort-key appliance\nversion 1\n" +
		"linux /appliance/a/vmlinuz\ninitrd /appliance/a/initrd.img\n" +
		"options appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a console=ttyS0,115200\n"
	if got["loader/entries/appliance-a.conf"] != wantA {
		t.Errorf("entry a:\n%s\nwant:\n%s", got["loader/entries/appliance-a.conf"], wantA)
	}
	// The node's upgrade code reads it back as slot A's blessed entry at
	// generation 1, and systemd-boot's order picks it.
	inst, err := bootslot.ParseInstalled("appliance-a.conf", []byte(wantA))
	if err != nil || inst.Name != bootslot.Blessed(bootslot.A) || inst.Entry.Generation != 1 || inst.Entry.Release != "1.4.0" {
		t.Errorf("slot A's entry reads back as %+v, %v", inst, err)
	}
	if s, ok := bootslot.Choose([]bootslot.Installed{inst}); !ok || s != bootslot.A {
		t.Errorf("systemd-boot would boot %+v, %v; want slot a", s, ok)
	}
}

// TestESPFilesDefaultRelease: a site without metadata.version is release
// upgradebundle.DefaultVersion, and a build without a kernel version
// leaves it out of the title.
func TestESPFilesDefaultRelease(t *testing.T) {
	got, _ := espFiles(t, output.Inputs{Name: "lab", Kernel: "/k", Initramfs: "/i", Bootloader: "/b"})
	if entry := got["loader/entries/appliance-a.conf"]; !strings.HasPrefix(entry, "title lab 0.0.0 (slot a)\n") {
		t.Errorf("entry a:\n%s\nwant the title \"lab 0.0.0 (slot a)\"", entry)
	}
}

// espFiles returns ESPFiles(in) as contents and sources by path.
func espFiles(t *testing.T, in output.Inputs) (data, sources map[string]string) {
	t.Helper()
	files, err := ESPFiles(in)
	if err != nil {
		t.Fatal(err)
	}
	data, sources = map[string]string{}, map[string]string{}
	for _, f := range files {
		data[f.Path] = string(f.Data)
		sources[f.Path] = f.Source
	}
	return data, sources
}

// TestESPFilesRefusesHostileValues: a loader entry is line-based, so a line
// break in the name, the release, the kernel version or an argument would
// add a line (another "options", say); an argument with a blank would add
// arguments.
func TestESPFilesRefusesHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*output.Inputs)
		want string
	}{
		{"name with a line break", func(in *output.Inputs) { in.Name = "lab\noptions init=/bin/sh" }, `name "lab\noptions init=/bin/sh": want a DNS label`},
		{"release with a line break", func(in *output.Inputs) { in.Release = "1.0.0\noptions init=/bin/sh" }, `release "1.0.0\noptions init=/bin/sh"`},
		{"kernel version with a line break", func(in *output.Inputs) { in.KernelVersion = "6.1.0\noptions init=/bin/sh" },
			`kernel version "6.1.0\noptions init=/bin/sh": want a kernel release`},
		{"argument with a blank", func(in *output.Inputs) { in.Cmdline = []string{"console=tty0 init=/bin/sh"} },
			`argument 1: "console=tty0 init=/bin/sh": a blank at byte 12`},
		{"argument with a carriage return", func(in *output.Inputs) { in.Cmdline = []string{"console=tty0\rinit=/bin/sh"} },
			`argument 1: "console=tty0\rinit=/bin/sh": byte 0x0d at byte 12`},
		{"argument with a quote", func(in *output.Inputs) { in.Cmdline = []string{`a="b init=/bin/sh"`} }, `'"' at byte 2`},
	} {
		in := output.Inputs{Name: "ml-lab", KernelVersion: "6.1.0-56-amd64", Cmdline: []string{"quiet"}}
		tc.edit(&in)
		files, err := ESPFiles(in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || files != nil {
			t.Errorf("%s: ESPFiles = %d files, %v; want an error saying %s", tc.name, len(files), err, tc.want)
		}
	}
}
