package helmcontroller

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
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
	plan, err := platform.Resolve(t.Context(), s, platform.Options{Catalog: cat, Charts: store, LocalCharts: t.TempDir()})
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
	if len(b.platform.Components) != len(cat.Components())+len(s.Charts) {
		t.Fatalf("baked %d components, the catalog has %d and the site %d charts", len(b.platform.Components), len(cat.Components()), len(s.Charts))
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
// endpoint Services, and the places its run-time image rules read (a
// container's flag or environment variable, a ConfigMap key), each naming
// standInImage, so the build's checks of a render and its derivation of
// run-time images pass. helm-controller never opens a chart; klipper-helm,
// which would, does not run here.
func standInChart(c *catalog.Component) *chart.Chart {
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: c.Chart.Name, Version: c.Chart.Version,
		Description: "stand-in for the catalog's chart (test double)"}}
	containers := map[string]map[string]*container{} // Kind/name -> container name -> what it is passed
	for _, w := range c.Readiness.Workloads {
		containers[w] = map[string]*container{}
	}
	passed := func(workload, name string) *container {
		if containers[workload] == nil {
			containers[workload] = map[string]*container{}
		}
		if containers[workload][name] == nil {
			containers[workload][name] = &container{name: name}
		}
		return containers[workload][name]
	}
	configMaps := map[string]map[string]any{} // name -> data
	for _, img := range c.Images {
		switch f := img.From; {
		case f == nil:
		case f.Arg != "":
			c := passed(f.Workload, f.Container)
			c.args = append(c.args, f.Arg+"="+standInImage)
		case f.Env != "":
			c := passed(f.Workload, f.Container)
			c.env = append(c.env, f.Env)
		case f.ConfigMap != "":
			if configMaps[f.ConfigMap] == nil {
				configMaps[f.ConfigMap] = map[string]any{}
			}
			setPath(configMaps[f.ConfigMap], append([]string{f.Key}, strings.Split(f.Path, ".")...), standInImage)
		}
	}
	for _, w := range slices.Sorted(maps.Keys(containers)) {
		kind, name, _ := strings.Cut(w, "/")
		var more []*container
		for _, n := range slices.Sorted(maps.Keys(containers[w])) {
			more = append(more, containers[w][n])
		}
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/" + name + ".yaml", Data: []byte(workloadTemplate(kind, name, more))})
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
	for _, name := range slices.Sorted(maps.Keys(configMaps)) {
		data := map[string]string{}
		for key, v := range configMaps[name] {
			if s, ok := v.(string); ok {
				data[key] = s
				continue
			}
			j, _ := json.Marshal(v) // maps of strings
			data[key] = string(j)
		}
		cm, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]string{"name": name}, "data": data})
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/cm-" + name + ".yaml", Data: cm})
	}
	return ch
}

// standInImage is the run-time image every stand-in place names.
const standInImage = "docker.io/library/busybox:1.37.0"

// container is a container of a stand-in workload passing standInImage by
// flags (args, "--flag=image") and environment variables (env).
type container struct {
	name      string
	args, env []string
}

// setPath sets m[path[0]][path[1]]... to v, making the maps on the way; an
// empty last element (a rule without a path) sets m[path[0]] itself.
func setPath(m map[string]any, path []string, v any) {
	if len(path) == 2 && path[1] == "" {
		m[path[0]] = v
		return
	}
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// workloadTemplate is a minimal valid workload of kind named name, with
// container main and the stand-in containers given.
func workloadTemplate(kind, name string, more []*container) string {
	extra := ""
	switch kind {
	case "Deployment":
		extra = "  replicas: 1\n"
	case "StatefulSet":
		extra = "  replicas: 1\n  serviceName: " + name + "\n"
	}
	list := []string{`{name: main, image: "docker.io/library/busybox:1.37.0"}`}
	for _, c := range more {
		var env []string
		for _, e := range c.env {
			env = append(env, fmt.Sprintf("{name: %s, value: %q}", e, standInImage))
		}
		args, _ := json.Marshal(c.args)
		list = append(list, fmt.Sprintf(`{name: %s, image: "docker.io/library/busybox:1.37.0", args: %s, env: [%s]}`, c.name, args, strings.Join(env, ", ")))
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
      containers: [%s]
`, kind, name, extra, name, name, strings.Join(list, ", "))
}
