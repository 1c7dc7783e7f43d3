package helmcontroller

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/internal/modsnapshot"
)

const module = "github.com/k3s-io/helm-controller"

// TestToolsPinTheBundledVersion: the controller the tests run is the
// version K3s bundles.
func TestToolsPinTheBundledVersion(t *testing.T) {
	data, err := os.ReadFile("tools/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == module {
			got = f[1]
		}
	}
	if got != Version {
		t.Errorf("tools/go.mod requires %s %q, want the pinned K3s release's %s", module, got, Version)
	}
}

// TestBringupCRDIsTheBundledOne: the HelmChart CRD firstboot/bringup's
// tests install is the one the bundled helm-controller ships, which K3s
// installs (pkg/server/context.go: helmcrds.List()).
func TestBringupCRDIsTheBundledOne(t *testing.T) {
	const file = "helm.cattle.io_helmcharts.yaml"
	dirs := modsnapshot.Download(t, module+"@"+Version)
	want, err := os.ReadFile(filepath.Join(dirs[module+"@"+Version], "pkg", "crds", "yaml", "generated", file))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "firstboot", "bringup", "testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("firstboot/bringup/testdata/crds/%s is not the CRD of %s@%s: copy it (see the README there)", file, module, Version)
	}
}
