package site

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestExampleConfigs loads and validates every file in configs/. A new
// example must be added to want, with the warnings it is expected to give.
func TestExampleConfigs(t *testing.T) {
	want := map[string][]string{
		"single-node.yaml":   nil,
		"three-servers.yaml": nil,
	}
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, f := range files {
		name := filepath.Base(f)
		seen = append(seen, name)
		wantWarnings, ok := want[name]
		if !ok {
			t.Errorf("configs/%s is not listed in this test", name)
			continue
		}
		s, warnings, err := Load(f)
		if err != nil {
			t.Errorf("configs/%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(warnings, wantWarnings) {
			t.Errorf("configs/%s warnings = %q, want %q", name, warnings, wantWarnings)
		}
		if s.Metadata.Name == "" || s.OS.Base.Kind() == "" || s.Outputs.Raw == nil {
			t.Errorf("configs/%s: name %q, base %q, raw %v: want all set", name, s.Metadata.Name, s.OS.Base.Kind(), s.Outputs.Raw)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("configs/ holds %q, want the %d files listed here", seen, len(want))
	}
}

// TestSingleNodeExample pins what the quick start builds.
func TestSingleNodeExample(t *testing.T) {
	s, _, err := Load("../../configs/single-node.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{s.Metadata.Name, s.Seed, s.OS.Base.Rootfs, s.OS.Overlays, len(s.Cluster.Nodes), s.Cluster.Nodes[0].Init, s.Outputs.Raw.Size.String()}
	want := []any{"single-node", "single-node", filepath.Join(abs, "out/base/debian-bookworm.tar"),
		[]string{filepath.Join(abs, "overlays/common")}, 1, true, "8GiB"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("single-node:\n got %v\nwant %v", got, want)
	}
}
