package manifests

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestPlacedFilesDecodeAsOriginals places testdata/good's files as the
// build does (flat, under File.Name) and has the K3s double decode each
// placed file and its source: the objects must be the same, and the ones
// Read reports. rbac.json placed as rbac.yaml covers JSON under a .yaml
// name, web.yml a .yml one.
func TestPlacedFilesDecodeAsOriginals(t *testing.T) {
	set, err := Read([]string{"testdata/good/monitor.yaml", "testdata/good/extra"})
	if err != nil {
		t.Fatal(err)
	}
	placed := t.TempDir()
	for _, f := range set.Files() {
		// firstboot/agent/k3splatform.go bakedFiles takes only names
		// <name>.yaml not starting with a dot.
		if !strings.HasSuffix(f.Name, ".yaml") || strings.HasPrefix(f.Name, ".") || strings.Contains(f.Name, "/") {
			t.Errorf("placed name %q is not <name>.yaml", f.Name)
		}
		if err := os.WriteFile(filepath.Join(placed, f.Name), f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range set.Files() {
		src, err := os.ReadFile(f.Source)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.ReadFile(filepath.Join(placed, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		fromSrc, err := k3sObjects(src)
		if err != nil {
			t.Fatalf("%s: %v", f.Source, err)
		}
		fromDst, err := k3sObjects(dst)
		if err != nil {
			t.Fatalf("placed %s: %v", f.Name, err)
		}
		if !reflect.DeepEqual(fromSrc, fromDst) {
			t.Errorf("%s: placed as %s decodes otherwise:\n%v\n%v", f.Source, f.Name, fromSrc, fromDst)
		}
		var got, want []string
		for _, o := range fromDst {
			got = append(got, o.GetAPIVersion()+" "+o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
		}
		for _, o := range f.Objects {
			want = append(want, o.APIVersion+" "+o.Kind+" "+o.Namespace+"/"+o.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: K3s decodes %q, Read reported %q", f.Name, got, want)
		}
	}
}
