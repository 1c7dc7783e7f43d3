package platform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// origin names what Place adds in the tree's origins.
const origin = "platform"

// Place adds the plan's charts, HelmChart manifests, registries.yaml and
// platform manifest to tree (see package payload for where each goes and
// who reads it). Image archives are the build's to write.
func Place(tree *rootfs.Tree, plan *Plan) error {
	opts := rootfs.FileOptions{Origin: origin}
	manifest := payload.Platform{KubeVersion: plan.KubeVersion, Components: []payload.PlatformComponent{}}
	placed := map[string]*Component{} // chart file -> first component with it
	for _, c := range plan.Components {
		file := ChartFile(c)
		switch first, ok := placed[file]; {
		case ok && first.Chart.SHA256 != c.Chart.SHA256:
			return fmt.Errorf("charts of %s (%s) and %s (%s) are both %s %s with different contents: the server serves charts by name and version, so give one another version",
				first.Catalog.Name, first.Catalog.File, c.Catalog.Name, c.Catalog.File, c.Chart.Name, c.Chart.Version)
		case ok:
			// Two releases of one chart: served once.
		default:
			placed[file] = c
			if err := tree.AddFileFrom(path.Join(payload.PlatformChartsDir, file), 0o644, c.Chart.Path, opts); err != nil {
				return fmt.Errorf("place chart %s: %w", file, err)
			}
		}
		hc, err := HelmChart(c)
		if err != nil {
			return err
		}
		mf := path.Join(payload.PlatformManifestsDir, c.Catalog.ReleaseName()+".yaml")
		if err := tree.AddFile(mf, 0o644, hc, opts); err != nil {
			return fmt.Errorf("place manifest for %s: %w", c.Catalog.Name, err)
		}
		manifest.Components = append(manifest.Components, describe(c))
	}
	if err := placeSiteManifests(tree, plan, opts); err != nil {
		return err
	}
	reg, err := Registries(plan.Images)
	if err != nil {
		return err
	}
	if err := tree.AddFile(payload.RegistriesTemplate, 0o644, reg, opts); err != nil {
		return fmt.Errorf("place registries.yaml: %w", err)
	}
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("platform manifest: %w", err)
	}
	if err := tree.AddFile(payload.PlatformManifest, 0o644, append(data, '\n'), opts); err != nil {
		return fmt.Errorf("place platform manifest: %w", err)
	}
	return nil
}

// ChartFile is the chart archive's name in the static charts directory.
func ChartFile(c *Component) string {
	return c.Chart.Name + "-" + c.Chart.Version + ".tgz"
}

// helmChart is the part of K3s's HelmChart (helm.cattle.io/v1) the
// appliance uses (k3s-io/helm-controller pkg/apis/helm.cattle.io/v1
// HelmChartSpec).
type helmChart struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Chart           string `json:"chart"`
		TargetNamespace string `json:"targetNamespace"`
		CreateNamespace bool   `json:"createNamespace"`
		Timeout         string `json:"timeout,omitempty"`
		ValuesContent   string `json:"valuesContent,omitempty"`
	} `json:"spec"`
}

// HelmChart renders the manifest that has K3s install c from the chart the
// server serves at /static/charts (never from the network).
func HelmChart(c *Component) ([]byte, error) {
	var hc helmChart
	hc.APIVersion, hc.Kind = "helm.cattle.io/v1", "HelmChart"
	hc.Metadata.Name, hc.Metadata.Namespace = c.Catalog.ReleaseName(), payload.HelmChartNamespace
	hc.Spec.Chart = "https://%{KUBERNETES_API}%/static/charts/" + ChartFile(c)
	hc.Spec.TargetNamespace, hc.Spec.CreateNamespace = c.Catalog.Namespace, true
	hc.Spec.Timeout = c.Catalog.Readiness.Timeout.String()
	if len(c.Values) > 0 {
		v, err := yaml.Marshal(c.Values)
		if err != nil {
			return nil, fmt.Errorf("platform %s: values: %w", c.Catalog.Name, err)
		}
		hc.Spec.ValuesContent = string(v)
	}
	out, err := yaml.Marshal(hc)
	if err != nil {
		return nil, fmt.Errorf("platform %s: HelmChart: %w", c.Catalog.Name, err)
	}
	header := fmt.Sprintf("# %s: %s (chart %s %s), baked by the appliance builder.\n",
		c.Catalog.Name, c.Catalog.Description, c.Chart.Name, c.Chart.Version)
	return append([]byte(header), out...), nil
}

// Registries renders registries.yaml with every registry host the images
// come from under mirrors and no endpoints: that turns on the K3s embedded
// registry mirror for each, so a node pulls the baked images from its peers
// (k3s docs, installation/registry-mirror: "The registry does not need to
// have any endpoints listed, it just needs to be present").
func Registries(images []Need) ([]byte, error) {
	var hosts []string
	for _, img := range images {
		r, err := name.ParseReference(img.Ref)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Ref, err)
		}
		host := r.Context().RegistryStr()
		if host == name.DefaultRegistry {
			host = "docker.io" // containerd's and K3s's name for Docker Hub
		}
		hosts = append(hosts, host)
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	var b bytes.Buffer
	b.WriteString("# Baked by the appliance builder: the embedded registry mirror serves these\n")
	b.WriteString("# registries' images from the cluster's nodes.\nmirrors:\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "  %q:\n", h)
	}
	if len(hosts) == 0 {
		b.Reset()
		b.WriteString("# Baked by the appliance builder: no platform images.\nmirrors: {}\n")
	}
	return b.Bytes(), nil
}

func describe(c *Component) payload.PlatformComponent {
	pc := payload.PlatformComponent{
		Name: c.Catalog.Name, Description: c.Catalog.Description, Namespace: c.Catalog.Namespace,
		HelmChart: c.Catalog.ReleaseName(), Chart: c.Chart.Name, ChartVersion: c.Chart.Version,
		Timeout: c.Catalog.Readiness.Timeout.String(), Workloads: c.Workloads, Credentials: c.Catalog.Credentials,
	}
	if c.Origin == OriginSite {
		pc.Origin = payload.OriginSite
	}
	for _, e := range c.Catalog.Endpoints {
		scheme := e.Scheme
		if scheme == "" {
			scheme = "http"
		}
		pc.Endpoints = append(pc.Endpoints, payload.Endpoint{Name: e.Name, Service: e.Service, Port: e.Port, Scheme: scheme, Path: e.Path})
	}
	return pc
}

// placeSiteManifests adds the site's manifests beside the HelmChart
// manifests, each under its K3s Addon name (validation refused a name a
// HelmChart manifest has; checked again, since both share a directory).
func placeSiteManifests(tree *rootfs.Tree, plan *Plan, opts rootfs.FileOptions) error {
	if plan.Manifests == nil {
		return nil
	}
	releases := map[string]bool{}
	for _, c := range plan.Components {
		releases[c.Catalog.ReleaseName()] = true
	}
	for _, f := range plan.Manifests.Files() {
		if releases[f.Addon] {
			return fmt.Errorf("site manifest %s: K3s would name its objects %q, as it names the HelmChart of release %s: rename the file", f.Source, f.Addon, f.Addon)
		}
		if err := tree.AddFile(path.Join(payload.PlatformManifestsDir, f.Name), 0o644, f.Data, opts); err != nil {
			return fmt.Errorf("place site manifest %s: %w", f.Source, err)
		}
	}
	return nil
}
