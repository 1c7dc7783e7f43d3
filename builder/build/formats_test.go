package build

import (
	"slices"
	"testing"

	"github.com/ml-appliance/appliance/builder/site"
)

func TestFormatsAndTheirHostTools(t *testing.T) {
	commands := func(s *site.Site) []string {
		var cs []string
		for _, tool := range hostTools(s) {
			cs = append(cs, tool.Command)
		}
		return cs
	}
	names := func(s *site.Site) []string {
		var ns []string
		fs, err := formats(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			ns = append(ns, f.Name())
		}
		return ns
	}
	rawOnly := &site.Site{Outputs: site.Outputs{Raw: &site.RawOutput{}}}
	if got := names(rawOnly); !slices.Equal(got, []string{"raw"}) {
		t.Errorf("raw only: formats %q", got)
	}
	if slices.Contains(commands(rawOnly), "xorriso") {
		t.Errorf("a raw-only build checks for xorriso: %q", commands(rawOnly))
	}
	both := &site.Site{Outputs: site.Outputs{Raw: &site.RawOutput{}, ISO: &site.ISOOutput{}}}
	if got := names(both); !slices.Equal(got, []string{"raw", "iso"}) {
		t.Errorf("raw and iso: formats %q", got)
	}
	for _, want := range []string{"xorriso", "/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/ISOLINUX/isohdpfx.bin", "/usr/lib/syslinux/modules/bios/ldlinux.c32"} {
		if !slices.Contains(commands(both), want) {
			t.Errorf("an ISO build does not check for %s: %q", want, commands(both))
		}
		if !slices.Contains(commands(nil), want) {
			t.Errorf("builder doctor does not check for %s", want)
		}
	}
}
