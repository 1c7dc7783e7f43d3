package helmcontroller

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// exampleConfig is the example config that carries the whole platform.
const exampleConfig = "../../configs/three-servers.yaml"

// baked is what a build of the example config bakes for the platform, read
// back from the OS image tree: the HelmChart manifest of each component (by
// HelmChart name), the platform manifest firstboot reads, and the resolved
// plan the build placed them from.
type baked struct {
	plan      *platform.Plan
	manifests map[string][]byte
	platform  payload.Platform
	tree      *rootfs.Tree
}

// bake resolves and places the platform of the example config, with every
// catalog component enabled (the optional nfs-provisioner too, with a
// site's NFS server in its values), exactly as a build does
// (platform.Resolve, then platform.Place into the tree). Only the charts
// are stand-ins (standInChart): the real ones cannot be downloaded here,
// and nothing in this test opens them.
func bake(t *testing.T) baked {
	t.Helper()
	s, _, err := site.Load(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	var charts []*chart.Chart
	for _, c := range cat.Components() {
		charts = append(charts, standInChart(c))
		if _, ok := s.Platform[c.Name]; !ok {
			s.Platform[c.Name] = site.PlatformComponent{}
		}
	}
	s.Platform["nfs-provisioner"] = site.PlatformComponent{Values: site.Values{"nfs": map[string]any{"server": "10.0.0.2", "path": "/srv/nfs"}}}
	repo := testrepo.ChartRepo(t, charts...)
	s.Mirrors.Charts = map[string]string{}
	for _, c := range cat.Components() {
		s.Mirrors.Charts[c.Name] = repo.URL
	}
	store, err := cache.New(cache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := platform.Resolve(t.Context(), s, platform.Options{Catalog: cat, Charts: store})
	if err != nil {
		t.Fatal(err)
	}
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { tree.Close() })
	if err := platform.Place(tree, plan); err != nil {
		t.Fatal(err)
	}
	b := baked{plan: plan, manifests: map[string][]byte{}, tree: tree}
	for _, c := range plan.Components {
		name := c.Catalog.ReleaseName()
		b.manifests[name] = readTree(t, tree, path.Join(payload.PlatformManifestsDir, name+".yaml"))
	}
	if err := json.Unmarshal(readTree(t, tree, payload.PlatformManifest), &b.platform); err != nil {
		t.Fatalf("%s: %v", payload.PlatformManifest, err)
	}
	if len(b.platform.Components) != len(cat.Components()) {
		t.Fatalf("baked %d components, the catalog has %d", len(b.platform.Components), len(cat.Components()))
	}
	return b
}

func readTree(t *testing.T, tree *rootfs.Tree, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(tree, strings.TrimPrefix(name, "/"))
	if err != nil {
		t.Fatalf("OS image tree: %v", err)
	}
	return data
}

// component is the plan's component whose HelmChart is named name.
func (b baked) component(t *testing.T, name string) *platform.Component {
	t.Helper()
	for _, c := range b.plan.Components {
		if c.Catalog.ReleaseName() == name {
			return c
		}
	}
	t.Fatalf("no component with HelmChart %s", name)
	return nil
}

// standInChart is a TEST DOUBLE for the catalog component's chart: the
// catalog's chart name and version (which is all the HelmChart manifest
// takes from a chart), rendering the component's readiness workloads and
// endpoint Services, so the build's checks of a render pass. helm-controller
// never opens a chart; klipper-helm, which would, does not run here.
func standInChart(c *catalog.Component) *chart.Chart {
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: c.Chart.Name, Version: c.Chart.Version,
		Description: "stand-in for the catalog's chart (test double)"}}
	for _, w := range c.Readiness.Workloads {
		kind, name, _ := strings.Cut(w, "/")
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/" + name + ".yaml", Data: []byte(workloadTemplate(kind, name))})
	}
	for _, e := range c.Endpoints {
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/svc-" + e.Service + ".yaml", Data: []byte(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  ports: [{port: %d}]
`, e.Service, e.Port))})
	}
	return ch
}

// workloadTemplate is a minimal valid workload of kind named name.
func workloadTemplate(kind, name string) string {
	extra := ""
	switch kind {
	case "Deployment":
		extra = "  replicas: 1\n"
	case "StatefulSet":
		extra = "  replicas: 1\n  serviceName: " + name + "\n"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: %s
metadata:
  name: %s
spec:
%s  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: main, image: "docker.io/library/busybox:1.37.0"}]
`, kind, name, extra, name, name)
}
