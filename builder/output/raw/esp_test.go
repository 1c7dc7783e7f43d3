package raw

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
)

func TestESPFilesBootSlotAWithApplianceArguments(t *testing.T) {
	in := output.Inputs{
		Name: "ml-lab", KernelVersion: "6.1.0-56-amd64",
		Kernel: "/k/vmlinuz", Initramfs: "/k/initrd", Bootloader: "/k/sd-boot.efi",
		Cmdline: []string{"console=ttyS0,115200"},
	}
	files, err := ESPFiles(in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	sources := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
		sources[f.Path] = f.Source
	}
	wantSources := map[string]string{
		"EFI/BOOT/BOOTX64.EFI":            "/k/sd-boot.efi",
		"appliance/a/vmlinuz":             "/k/vmlinuz",
		"appliance/a/initrd.img":          "/k/initrd",
		"loader/loader.conf":              "",
		"loader/entries/appliance-a.conf": "",
		"loader/entries/appliance-b.conf": "",
	}
	if len(sources) != len(wantSources) {
		t.Fatalf("ESP files %v, want %v", sources, wantSources)
	}
	for p, s := range wantSources {
		if sources[p] != s {
			t.Errorf("%s: source %q, want %q", p, sources[p], s)
		}
	}
	if want := "default appliance-a.conf\ntimeout 0\neditor no\n"; got["loader/loader.conf"] != want {
		t.Errorf("loader.conf:\n%s\nwant:\n%s", got["loader/loader.conf"], want)
	}
	wantA := "title ml-lab (slot a)\nversion 6.1.0-56-amd64\nlinux /appliance/a/vmlinuz\ninitrd /appliance/a/initrd.img\n" +
		"options appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a console=ttyS0,115200\n"
	if got["loader/entries/appliance-a.conf"] != wantA {
		t.Errorf("entry a:\n%s\nwant:\n%s", got["loader/entries/appliance-a.conf"], wantA)
	}
	wantB := "title ml-lab (slot b)\nversion 6.1.0-56-amd64\nlinux /appliance/b/vmlinuz\ninitrd /appliance/b/initrd.img\n" +
		"options appliance.os=PARTLABEL=OS-B appliance.state=PARTLABEL=STATE appliance.slot=b console=ttyS0,115200\n"
	if got["loader/entries/appliance-b.conf"] != wantB {
		t.Errorf("entry b:\n%s\nwant:\n%s", got["loader/entries/appliance-b.conf"], wantB)
	}
}

// TestESPFilesRefusesHostileValues: a loader entry is line-based, so a line
// break in the name, the kernel version or an argument would add a line
// (another "options", say); an argument with a blank would add arguments.
func TestESPFilesRefusesHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*output.Inputs)
		want string
	}{
		{"name with a line break", func(in *output.Inputs) { in.Name = "lab\noptions init=/bin/sh" }, `name "lab\noptions init=/bin/sh": want a DNS label`},
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
