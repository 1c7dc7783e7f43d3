package charts

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"sigs.k8s.io/yaml"
)

// K3sAPIVersions are the API groups a K3s server serves beyond the
// Kubernetes built-ins (KubernetesAPIVersions): its HelmChart
// controller, its own k3s.cattle.io resources, the bundled Traefik's CRDs
// and metrics-server. Traefik v3, which K3s bundles since v1.32, dropped
// the traefik.containo.us group, so a chart asking for it must not be
// told it exists. They hold for the release the appliance pins, K3s
// v1.36.2+k3s1 (release notes: Helm-controller v0.17.1, Traefik v3.7.4,
// Metrics-server v0.8.1); the Kubernetes version itself comes from the
// release tag (platform.KubeVersion). The helm.cattle.io and traefik.io entries are checked
// against the CRDs of k3s-io/helm-controller and traefik-helm-chart
// (apiversions_test.go); the k3s.cattle.io ones are K3s's pkg/crd list,
// not checked here (the k3s module cannot be downloaded on this machine).
var K3sAPIVersions = []string{
	"helm.cattle.io/v1",
	"helm.cattle.io/v1/HelmChart",
	"helm.cattle.io/v1/HelmChartConfig",
	"k3s.cattle.io/v1",
	"k3s.cattle.io/v1/Addon",
	"k3s.cattle.io/v1/ETCDSnapshotFile",
	"metrics.k8s.io/v1beta1",
	"traefik.io/v1alpha1",
	"traefik.io/v1alpha1/IngressRoute",
	"traefik.io/v1alpha1/IngressRouteTCP",
	"traefik.io/v1alpha1/IngressRouteUDP",
	"traefik.io/v1alpha1/Middleware",
	"traefik.io/v1alpha1/MiddlewareTCP",
	"traefik.io/v1alpha1/ServersTransport",
	"traefik.io/v1alpha1/ServersTransportTCP",
	"traefik.io/v1alpha1/TLSOption",
	"traefik.io/v1alpha1/TLSStore",
	"traefik.io/v1alpha1/TraefikService",
}

// RenderOptions configures Render.
type RenderOptions struct {
	// ReleaseName and Namespace are the release the chart is installed as.
	ReleaseName string
	Namespace   string
	// Values are the site's values for the chart.
	Values map[string]any
	// KubeVersion is the target Kubernetes version, e.g. "v1.33.5".
	KubeVersion string
	// APIVersions are served beyond KubernetesAPIVersions; nil means
	// K3sAPIVersions. The group/versions (and kinds) of the CRDs the chart
	// ships are always added.
	APIVersions []string
}

// Manifest is one rendered Kubernetes object.
type Manifest struct {
	// Template is the template it came from ("chart/charts/sub/templates/x.yaml").
	Template string
	// Hook is true for Helm hooks (not in the release manifest).
	Hook bool
	// Content is the object's YAML.
	Content string
}

// Rendered is a chart rendered for one release.
type Rendered struct {
	// Chart is the rendered chart's name.
	Chart string
	// Manifests lists CRDs, resources then hooks, in Helm's order.
	Manifests []Manifest
}

// Render renders ch as `helm template` would (CRDs, subcharts and hooks
// included, no cluster to look objects up in), except that the chart sees
// the API versions a server serves as Helm on that server lists them:
// KubernetesAPIVersions, then opts.APIVersions, then the chart's CRDs,
// and nothing else. `helm template` (Install.ClientOnly) would add
// chartutil.DefaultVersionSet, which a 1.36 server disagrees with
// (KubernetesAPIVersions), so Render takes Install's dry-run path with
// the Capabilities set instead and the client `helm template` itself
// uses, which reaches no cluster (helm.sh/helm/v3 v3.22.0
// pkg/action/install.go RunWithContext: with ClientOnly it sets
// kubefake.PrintingKubeClient and DefaultCapabilities; a dry run with no
// DryRunOption renders without a cluster, returns before creating
// anything, and uses Configuration.Capabilities as given).
func Render(ch *chart.Chart, opts RenderOptions) (*Rendered, error) {
	name := ch.Name()
	kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: kubernetes version %q: %w", name, opts.KubeVersion, err)
	}
	extra := opts.APIVersions
	if extra == nil {
		extra = K3sAPIVersions
	}
	inst := action.NewInstall(&action.Configuration{
		Log:        func(string, ...any) {},
		KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard},
		Releases:   storage.Init(driver.NewMemory()),
		Capabilities: &chartutil.Capabilities{
			KubeVersion: *kv,
			APIVersions: slices.Concat(KubernetesAPIVersions, extra, crdAPIVersions(ch)),
			HelmVersion: chartutil.DefaultCapabilities.HelmVersion,
		},
	})
	inst.DryRun = true
	inst.IncludeCRDs = true
	inst.Replace = true
	inst.ReleaseName = opts.ReleaseName
	inst.Namespace = opts.Namespace
	vals := opts.Values
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := inst.Run(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", name, err)
	}
	out := &Rendered{Chart: name, Manifests: splitManifest(rel.Manifest)}
	for _, h := range rel.Hooks {
		out.Manifests = append(out.Manifests, Manifest{Template: h.Path, Hook: true, Content: strings.TrimSpace(h.Manifest)})
	}
	return out, nil
}

// splitManifest cuts a release manifest into objects, each named by its
// "# Source:" comment.
func splitManifest(all string) []Manifest {
	var out []Manifest
	for _, doc := range strings.Split("\n"+all, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc == "" {
			continue
		}
		m := Manifest{Content: doc}
		if first, _, _ := strings.Cut(doc, "\n"); strings.HasPrefix(first, "# Source: ") {
			m.Template = strings.TrimPrefix(first, "# Source: ")
		}
		out = append(out, m)
	}
	return out
}

// crdAPIVersions lists "group/version" and "group/version/Kind" for every
// CRD the chart and its subcharts ship, so resources gated on them render.
func crdAPIVersions(ch *chart.Chart) []string {
	var out []string
	for _, crd := range ch.CRDObjects() {
		out = append(out, crdVersions(crd.File.Data)...)
	}
	return out
}

// crdVersions lists "group/version" and "group/version/Kind" for each
// version of each CustomResourceDefinition in a YAML file (documents
// separated by ---); other documents are skipped.
func crdVersions(data []byte) []string {
	var out []string
	for _, doc := range strings.Split("\n"+string(data), "\n---") {
		var obj struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
				Versions []struct {
					Name string `json:"name"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if yaml.Unmarshal([]byte(doc), &obj) != nil || obj.Spec.Group == "" {
			continue
		}
		for _, v := range obj.Spec.Versions {
			gv := path.Join(obj.Spec.Group, v.Name)
			out = append(out, gv, gv+"/"+obj.Spec.Names.Kind)
		}
	}
	return out
}
