package netconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func readNetworkDir(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := filepath.Join(root, NetworkDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func TestApply(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, NetworkDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Files Apply does not own: the base OS's DHCP default and an operator's file.
	foreign := map[string]string{
		"80-dhcp.network":     "[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n",
		"10-operator.network": "[Match]\nName=eth9\n",
	}
	for name, content := range foreign {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	first := []File{
		{Name: "10-cloud-config-eth0.network", Content: []byte("[Match]\nName=eth0\n")},
		{Name: "10-cloud-config-bond0.netdev", Content: []byte("[NetDev]\nName=bond0\nKind=bond\n")},
	}
	changed, err := Apply(root, first)
	if err != nil || !changed {
		t.Fatalf("first Apply: changed=%v err=%v, want changed", changed, err)
	}
	want := map[string]string{
		"80-dhcp.network":              foreign["80-dhcp.network"],
		"10-operator.network":          foreign["10-operator.network"],
		"10-cloud-config-eth0.network": "[Match]\nName=eth0\n",
		"10-cloud-config-bond0.netdev": "[NetDev]\nName=bond0\nKind=bond\n",
	}
	if got := readNetworkDir(t, root); !reflect.DeepEqual(got, want) {
		t.Fatalf("after first Apply:\n got %q\nwant %q", got, want)
	}
	info, err := os.Stat(filepath.Join(dir, "10-cloud-config-eth0.network"))
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v (%v), want 0644", info.Mode(), err)
	}

	// Same files again: nothing to do.
	if changed, err := Apply(root, first); err != nil || changed {
		t.Fatalf("second Apply: changed=%v err=%v, want unchanged", changed, err)
	}

	// A new set: eth0 changes, bond0 goes, eth1 comes; a leftover temp file
	// from an interrupted run goes too.
	if err := os.WriteFile(filepath.Join(dir, ".firstboot-10-cloud-config-eth0.network.tmp-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	second := []File{
		{Name: "10-cloud-config-eth0.network", Content: []byte("[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n")},
		{Name: "10-cloud-config-eth1.network", Content: []byte("[Match]\nName=eth1\n")},
	}
	if changed, err := Apply(root, second); err != nil || !changed {
		t.Fatalf("third Apply: changed=%v err=%v, want changed", changed, err)
	}
	want = map[string]string{
		"80-dhcp.network":              foreign["80-dhcp.network"],
		"10-operator.network":          foreign["10-operator.network"],
		"10-cloud-config-eth0.network": "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n",
		"10-cloud-config-eth1.network": "[Match]\nName=eth1\n",
	}
	if got := readNetworkDir(t, root); !reflect.DeepEqual(got, want) {
		t.Fatalf("after third Apply:\n got %q\nwant %q", got, want)
	}

	// A mode change alone is repaired.
	if err := os.Chmod(filepath.Join(dir, "10-cloud-config-eth1.network"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := Apply(root, second); err != nil || !changed {
		t.Fatalf("Apply after chmod: changed=%v err=%v, want changed", changed, err)
	}

	// No files: every file Apply owns goes, the others stay.
	if changed, err := Apply(root, nil); err != nil || !changed {
		t.Fatalf("empty Apply: changed=%v err=%v, want changed", changed, err)
	}
	if got := readNetworkDir(t, root); !reflect.DeepEqual(got, foreign) {
		t.Fatalf("after empty Apply:\n got %q\nwant %q", got, foreign)
	}
	if changed, err := Apply(root, nil); err != nil || changed {
		t.Fatalf("second empty Apply: changed=%v err=%v, want unchanged", changed, err)
	}
}

func TestApplyCreatesDirectory(t *testing.T) {
	root := t.TempDir()
	files := []File{{Name: "10-cloud-config-eth0.network", Content: []byte("x\n")}}
	if changed, err := Apply(root, files); err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if got := readNetworkDir(t, root); !reflect.DeepEqual(got, map[string]string{"10-cloud-config-eth0.network": "x\n"}) {
		t.Errorf("got %q", got)
	}
}

func TestApplyRefusesForeignNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  string
	}{
		{"80-dhcp.network", `apply network config: file name "80-dhcp.network": want a plain name starting with "10-cloud-config-"`},
		{"10-cloud-config-../../x.network", `apply network config: file name "10-cloud-config-../../x.network": want a plain name starting with "10-cloud-config-"`},
		{"10-cloud-config-", `apply network config: file name "10-cloud-config-": want a plain name starting with "10-cloud-config-"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := []File{
				{Name: "10-cloud-config-eth0.network", Content: []byte("ok\n")},
				{Name: tc.name, Content: []byte("bad\n")},
			}
			changed, err := Apply(root, files)
			if err == nil || err.Error() != tc.err || changed {
				t.Fatalf("changed=%v err=%v, want %s", changed, err, tc.err)
			}
			// Nothing was written, not even the good file.
			if _, err := os.Stat(filepath.Join(root, "etc")); !os.IsNotExist(err) {
				t.Errorf("Apply wrote under root: %v", err)
			}
		})
	}
	_, err := Apply(t.TempDir(), []File{{Name: "10-cloud-config-a.network"}, {Name: "10-cloud-config-a.network"}})
	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate names: err = %v", err)
	}
}

// TestParseRenderApply runs the whole path on a golden input: what Parse
// accepts renders and applies, and applying it twice changes nothing.
func TestParseRenderApply(t *testing.T) {
	data, err := os.ReadFile("testdata/bond-vlan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Parse("network-config", data)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if changed, err := Apply(root, files); err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if changed, err := Apply(root, files); err != nil || changed {
		t.Fatalf("second Apply: changed=%v err=%v", changed, err)
	}
	got := readNetworkDir(t, root)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != len(files) {
		t.Fatalf("files on disk %q, want %d", names, len(files))
	}
	for i, f := range files {
		if names[i] != f.Name || got[f.Name] != string(f.Content) {
			t.Errorf("%s on disk differs from the rendered file", f.Name)
		}
	}
}
