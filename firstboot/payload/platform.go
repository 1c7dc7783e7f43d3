package payload

// The ML platform, as the builder bakes it: chart archives and the K3s
// HelmChart manifests that install them (servers only: firstboot puts them
// where K3s's server reads them), a registries.yaml that turns on the K3s
// embedded registry mirror for every registry the baked images come from
// (all nodes), and PlatformManifest, which tells firstboot what to wait for
// and what to report.
const (
	// PlatformChartsDir holds the chart archives, <name>-<version>.tgz.
	PlatformChartsDir = "/usr/lib/appliance/k3s/charts"
	// PlatformManifestsDir holds one HelmChart manifest per component.
	PlatformManifestsDir = "/usr/lib/appliance/k3s/manifests"
	// K3sStaticChartsDir is where a K3s server serves static files from
	// (https://<server>:6443/static/...); HelmChart manifests name charts
	// there as https://%{KUBERNETES_API}%/static/charts/<file>.
	K3sStaticChartsDir = "/var/lib/rancher/k3s/server/static/charts"
	// K3sServerManifestsDir is the directory a K3s server applies
	// manifests from (and keeps applying as they change).
	K3sServerManifestsDir = "/var/lib/rancher/k3s/server/manifests"
	// RegistriesTemplate is the registries.yaml the builder made: every
	// registry host of the baked images listed under mirrors, with no
	// endpoints, which enables the embedded mirror for it.
	RegistriesTemplate = "/usr/lib/appliance/k3s/registries.yaml"
	// K3sRegistriesPath is where K3s reads registries.yaml.
	K3sRegistriesPath = "/etc/rancher/k3s/registries.yaml"
	// PlatformManifest is the JSON form of Platform.
	PlatformManifest = "/usr/lib/appliance/platform.json"
)

// Platform describes the baked ML platform for firstboot.
type Platform struct {
	// KubeVersion is the Kubernetes version the charts were rendered for.
	KubeVersion string `json:"kubeVersion"`
	// Components are the enabled components, sorted by name.
	Components []PlatformComponent `json:"components"`
}

// PlatformComponent is one component: where it is installed, how to tell
// it is ready, and where an operator reaches it.
type PlatformComponent struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Origin is OriginSite for a chart of the site's own (site.yaml
	// charts), empty for a catalog component.
	Origin string `json:"origin,omitempty"`
	// Namespace the release is installed into.
	Namespace string `json:"namespace"`
	// HelmChart is the name of the HelmChart object (namespace
	// HelmChartNamespace) that installs the component; K3s's helm-controller
	// runs its install as Job helm-install-<HelmChart>.
	HelmChart string `json:"helmChart"`
	// Chart and ChartVersion name the chart.
	Chart        string `json:"chart"`
	ChartVersion string `json:"chartVersion"`
	// Timeout bounds the wait for readiness, as a Go duration ("10m0s").
	Timeout string `json:"timeout"`
	// Workloads must all be ready: "Deployment/name", "StatefulSet/name" or
	// "DaemonSet/name", in Namespace.
	Workloads []string `json:"workloads"`
	// Endpoints are where an operator reaches the component.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Credentials says where the initial credentials are.
	Credentials string `json:"credentials,omitempty"`
}

// Endpoint is a Service an operator reaches.
type Endpoint struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Port    int    `json:"port"`
	Scheme  string `json:"scheme"`
	Path    string `json:"path,omitempty"`
}

// OriginSite marks a chart of the site's own in PlatformComponent.Origin.
const OriginSite = "site"

// HelmChartNamespace is where the HelmChart objects live.
const HelmChartNamespace = "kube-system"
