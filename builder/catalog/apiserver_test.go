package catalog_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/internal/kubetest"
	"github.com/ml-appliance/appliance/internal/modsnapshot"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// K3s's own CRDs, so the API server serves what a K3s server serves beyond
// Kubernetes: helm.cattle.io from the helm-controller K3s v1.36.2 bundles
// (release notes, "Helm-controller v0.17.1"), traefik.io from the Traefik
// chart snapshot charts/apiversions_test.go checks K3sAPIVersions against.
// metrics.k8s.io (an aggregated API served by metrics-server) and
// k3s.cattle.io are not served here.
const (
	k3sHelmControllerModule = "github.com/k3s-io/helm-controller@v0.17.1"
	k3sTraefikChartModule   = "github.com/traefik/traefik-helm-chart@v41.6.0+incompatible"
)

// TestPlatformOnAPIServer renders every catalog component whose chart can
// be had here the way a build does (platform.Resolve: the chart pulled from
// a chart repository, values merged, charts.Render for the pinned K3s's
// Kubernetes version and API versions), for the catalog's values and for
// each example config's, and then, on a real kube-apiserver of that
// Kubernetes minor (firstboot/kubetools):
//
//   - create: every rendered object, hooks included, is created as it is
//     (CRDs first, waited for until Established; then namespaces; then the
//     rest), with strict field validation as Helm 4 applies: no rejection;
//   - helm-install: on a fresh server, the API versions and kinds it
//     serves are those the build renders for (servedapis_test.go); each
//     chart archive is installed with its HelmChart's valuesContent as
//     klipper-helm's `helm install` does (helminstall_test.go): no
//     failure; every image the Helm 4 release (CRDs, manifest and hooks)
//     names, found with the build's own charts.Images, is one the build
//     bakes for that component (plan.Images); no object naming an image
//     is in the release but not in the build's Helm 3 render; every other
//     difference between the two object sets is logged
//     (helm4images_test.go). The same holds for each chart rendered by
//     Helm 4 on the server once every component is installed
//     (rendered-after-all: K3s installs HelmCharts in no set order, so a
//     chart may see the other components' CRDs served).
//
// Components whose chart cannot be downloaded here are reported as skipped
// subtests chart-not-available-here/<component>, never as passed.
func TestPlatformOnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver (make testassets) and renders the upstream charts")
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	upstream := catalog.NewUpstreamChecker(t)
	crds := k3sCRDs(t)
	checked := map[string]string{}
	for _, set := range valueSets(t, cat) {
		keys := set.keys(t, cat)
		if where, ok := checkedAll(checked, keys); ok {
			t.Logf("%s: every component it enables has the Kubernetes version and values of %s, checked there", set.name, where)
			continue
		}
		for _, k := range keys {
			checked[k] = set.name
		}
		t.Run(set.name, func(t *testing.T) {
			checkOnAPIServer(t, cat, upstream, crds, set)
		})
	}
}

// keys identifies each component set enables by its name, the Kubernetes
// version it renders for and its merged values.
func (set valueSet) keys(t *testing.T, cat *catalog.Catalog) []string {
	t.Helper()
	var keys []string
	for _, name := range set.site.Platform.Enabled() {
		c, ok := cat.Component(name)
		if !ok {
			t.Fatalf("%s: platform %s: not in the catalog", set.name, name)
		}
		v, err := json.Marshal(platform.MergeValues(c.Values, set.site.Platform[name].Values))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, name+"@"+platform.KubeVersion(set.site.K3s)+":"+string(v))
	}
	return keys
}

// checkedAll says whether every key was checked, and by which set.
func checkedAll(checked map[string]string, keys []string) (string, bool) {
	var where []string
	for _, k := range keys {
		w, ok := checked[k]
		if !ok {
			return "", false
		}
		if !slices.Contains(where, w) {
			where = append(where, w)
		}
	}
	return strings.Join(where, ", "), len(keys) > 0
}

// valueSet is one site whose platform is checked: the whole catalog with
// its own values, or an example config.
type valueSet struct {
	name string
	site *site.Site
}

// valueSets is the catalog (every component, the K3s release the example
// configs pin) and every example config that enables a component.
func valueSets(t *testing.T, cat *catalog.Catalog) []valueSet {
	t.Helper()
	pins := pinnedK3s(t)
	files := make([]string, 0, len(pins))
	for f := range pins {
		files = append(files, f)
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatal("no example config pins a K3s release")
	}
	all := site.Platform{}
	for _, name := range cat.Names() {
		all[name] = site.PlatformComponent{}
	}
	sets := []valueSet{{name: "catalog", site: &site.Site{K3s: pins[files[0]], Platform: all}}}
	configs, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configs {
		s, _, err := site.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Platform.Enabled()) > 0 {
			sets = append(sets, valueSet{name: filepath.Base(f), site: s})
		}
	}
	return sets
}

// checkOnAPIServer resolves set's platform through a chart repository on
// 127.0.0.1 serving the upstream charts, then creates and installs it.
func checkOnAPIServer(t *testing.T, cat *catalog.Catalog, upstream *catalog.UpstreamChecker, crds []string, set valueSet) {
	repo := testrepo.ChartRepo(t)
	s := *set.site
	s.Platform = site.Platform{}
	s.Mirrors = site.Mirrors{Charts: map[string]string{}}
	var unavailable []*catalog.Component
	for _, name := range set.site.Platform.Enabled() {
		c, ok := cat.Component(name)
		if !ok {
			t.Fatalf("platform %s: not in the catalog", name)
		}
		if !upstream.Available(c) {
			unavailable = append(unavailable, c)
			continue
		}
		repo.AddChart(t, upstream.Chart(t, c, platform.MergeValues(c.Values, set.site.Platform[name].Values)))
		s.Platform[name] = set.site.Platform[name]
		s.Mirrors.Charts[name] = repo.URL
	}
	t.Run("chart-not-available-here", func(t *testing.T) {
		for _, c := range unavailable {
			t.Run(c.Name, func(t *testing.T) {
				t.Skipf("chart %s: no Go module snapshot of its repository here; NOT created on the API server, NOT installed", c.Chart)
			})
		}
	})
	store, err := cache.New(cache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := platform.Resolve(context.Background(), &s, platform.Options{Catalog: cat, Charts: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("create", func(t *testing.T) {
		k := newAPIClient(t, kubetest.Start(t, crds...))
		k.checkMinor(t, plan.KubeVersion)
		for _, c := range plan.Components {
			t.Run(c.Catalog.Name, func(t *testing.T) {
				n, errs := k.createRendered(c.Catalog.Namespace, c.Rendered)
				for _, err := range errs {
					t.Errorf("%s: %v", c.Catalog.File, err)
				}
				t.Logf("%d objects created", n)
				for _, w := range k.warnings.take() {
					t.Logf("API server warning: %s", w)
				}
			})
		}
	})
	t.Run("helm-install", func(t *testing.T) {
		cfg := kubetest.Start(t, crds...)
		k := newAPIClient(t, cfg)
		k.checkServedAPIVersions(t)
		jobs := startJobCompleter(k.typed)
		defer jobs.stop(t)
		kubeconfig := writeKubeconfig(t, cfg)
		for _, c := range plan.Components {
			t.Run(c.Catalog.Name, func(t *testing.T) {
				checkHelm4Release(t, c, plan.Images, helmInstall(t, kubeconfig, c, action.DryRunNone))
			})
		}
		// K3s installs the HelmCharts in no set order: a chart may be
		// rendered before or after the other components' CRDs are served.
		t.Run("rendered-after-all", func(t *testing.T) {
			for _, c := range plan.Components {
				t.Run(c.Catalog.Name, func(t *testing.T) {
					checkHelm4Release(t, c, plan.Images, helmInstall(t, kubeconfig, c, action.DryRunServer))
				})
			}
		})
	})
}

// k3sCRDs are the CRD files of the API groups K3s serves besides
// Kubernetes's own that can be had here.
func k3sCRDs(t *testing.T) []string {
	t.Helper()
	dirs := modsnapshot.Download(t, k3sHelmControllerModule, k3sTraefikChartModule)
	var files []string
	for _, glob := range []string{
		filepath.Join(dirs[k3sHelmControllerModule], "pkg/crds/yaml/generated/helm.cattle.io_*.yaml"),
		filepath.Join(dirs[k3sTraefikChartModule], "traefik/crds/traefik.io_*.yaml"),
	} {
		m, err := filepath.Glob(glob)
		if err != nil || len(m) == 0 {
			t.Fatalf("no CRD files at %s (%v)", glob, err)
		}
		files = append(files, m...)
	}
	return files
}
