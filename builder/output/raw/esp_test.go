package raw

import (
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
)

func TestESPFilesBootSlotAWithApplianceArguments(t *testing.T) {
	in := output.Inputs{
		Name: "ml-lab", KernelVersion: "6.1.0-56-amd64",
		Kernel: "/k/vmlinuz", Initramfs: "/k/initrd", Bootloader: "/k/sd-boot.efi",
		Cmdline: []string{"console=ttyS0,115200"},
	}
	got := map[string]string{}
	sources := map[string]string{}
	for _, f := range ESPFiles(in) {
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
