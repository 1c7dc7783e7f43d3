// Package platform turns the site's platform section, its own charts,
// manifests and images, and the catalog into what an appliance carries for
// the ML platform: each component's chart (a catalog component's or a
// chart of the site's, pulled and digest-checked or packaged from a local
// directory), its values (the catalog's small-cluster defaults with the
// site's overrides merged over them), the chart rendered with those values
// for the target Kubernetes version, and the set of images the rendered
// charts, the run-time images derived from values and renders
// (runtimeimages.go), the site's manifests and the site's own lists need,
// each with the places that need it.
//
// Resolve does not pull images; the build pulls Plan.Images through the
// image store. Place writes the charts, the K3s HelmChart manifests that
// deploy them, the site's manifests, the embedded-mirror registries.yaml
// and the platform manifest firstboot reads into the root filesystem.
//
//	plan, err := platform.Resolve(ctx, s, platform.Options{Catalog: cat, Charts: c})
//	for _, need := range plan.Images { fmt.Println(need.Ref, need.From) }
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/charts"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/manifests"
	"github.com/ml-appliance/appliance/builder/site"
)

// Options configures Resolve.
type Options struct {
	// Catalog lists the components; required.
	Catalog *catalog.Catalog
	// Charts pulls chart archives (the build cache); required.
	Charts charts.Store
	// Lock pins chart archives by digest; nil pins nothing.
	Lock *lock.Lock
	// LocalCharts is the directory the site's local charts are packaged
	// into; required when the site has one.
	LocalCharts string
	// ModTime is the time stamp of every file in a packaged local chart.
	ModTime time.Time
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Component is one enabled component, resolved.
type Component struct {
	// Catalog is the component's entry: the catalog's, or, for a chart of
	// the site's own (Origin OriginSite), one made from site.yaml.
	Catalog *catalog.Component
	// Origin says where the component comes from: OriginCatalog or
	// OriginSite.
	Origin string
	// Local is a site chart's directory or .tgz; empty for a chart from a
	// repository.
	Local string
	// Repo is the chart repository used: the catalog's, or the site's
	// mirror for it.
	Repo string
	// Chart is the pulled chart archive.
	Chart *charts.Pulled
	// Values are the merged chart values.
	Values map[string]any
	// Rendered is the chart rendered with Values.
	Rendered *charts.Rendered
	// Workloads are the Kind/name workloads firstboot waits for.
	Workloads []string
}

// Need is one image the platform needs and what needs it.
type Need struct {
	// Ref is the image reference as the chart or catalog names it.
	Ref string
	// From lists what needs it, like "chart minio: Deployment minio/minio"
	// or "catalog jupyterhub: notebook servers".
	From []string
	// Components are the components that need it, sorted.
	Components []string
}

// Plan is the resolved platform.
type Plan struct {
	// KubeVersion is the Kubernetes version the charts were rendered for.
	KubeVersion string
	// Components are the enabled components, sorted by name.
	Components []*Component
	// Images are every image needed, sorted by reference.
	Images []Need
	// Manifests are the site's own manifests; nil when it has none.
	Manifests *manifests.Set
}

// Resolve pulls, merges and renders every component s enables and every
// chart of its own, reads its manifests and lists every image all of them
// need. It fails naming every component that could not be resolved, and
// on a run-time image a workload passes that would not be baked
// (checkPassedImages).
func Resolve(ctx context.Context, s *site.Site, opts Options) (*Plan, error) {
	if opts.Catalog == nil || opts.Charts == nil {
		return nil, errors.New("platform: Options.Catalog and Options.Charts are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	plan := &Plan{KubeVersion: KubeVersion(s.K3s)}
	if minor := kubeMinor(plan.KubeVersion); minor != charts.KubernetesAPIMinor {
		log.Warn("charts are rendered with the API versions kube-apiserver "+charts.KubernetesAPIMinor+
			" serves: a chart that checks for an API added or removed since may render differently on this cluster",
			"kubernetes", plan.KubeVersion)
	}
	var errs []error
	var wanted []*Component
	for _, name := range s.Platform.Enabled() {
		entry, ok := opts.Catalog.Component(name)
		if !ok {
			errs = append(errs, fmt.Errorf("platform %s: not in the catalog", name))
			continue
		}
		c := &Component{Catalog: entry, Origin: OriginCatalog, Repo: entry.Chart.Repo,
			Values: MergeValues(entry.Values, s.Platform[name].Values)}
		if m, ok := s.Mirrors.Charts[name]; ok {
			c.Repo = m
		}
		wanted = append(wanted, c)
	}
	for i := range s.Charts {
		wanted = append(wanted, siteComponent(s, i))
	}
	for _, c := range wanted {
		what := c.what()
		log.Info("resolving "+what, "chart", c.Catalog.Chart.Name, "version", c.Catalog.Chart.Version, "path", c.Local)
		if err := resolveComponent(ctx, c, plan.KubeVersion, opts); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		plan.Components = append(plan.Components, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(plan.Components, func(a, b *Component) int { return strings.Compare(a.Catalog.Name, b.Catalog.Name) })
	if len(s.Manifests) > 0 {
		set, err := manifests.Read(s.Manifests)
		if err != nil {
			return nil, fmt.Errorf("site manifests: %w", err)
		}
		for _, w := range set.Warnings() {
			log.Warn("site manifests: " + w)
		}
		for _, sk := range set.Skipped() {
			log.Info("site manifests: left out "+sk.Path, "reason", sk.Reason)
		}
		plan.Manifests = set
	}
	needs := needSet{}
	if err := collectImages(needs, plan.Components); err != nil {
		return nil, err
	}
	addSiteImages(needs, s, plan.Components, plan.Manifests)
	var err error
	if plan.Images, err = needs.list(); err != nil {
		return nil, err
	}
	if err := checkPassedImages(plan.Components, plan.Images); err != nil {
		return nil, err
	}
	return plan, nil
}

// resolveComponent pulls (or packages) c's chart, renders it with c.Values
// and finds the workloads to wait for.
func resolveComponent(ctx context.Context, c *Component, kubeVersion string, opts Options) error {
	entry := c.Catalog
	var err error
	if c.Local != "" {
		if opts.LocalCharts == "" {
			return errors.New("platform: Options.LocalCharts is required for a local chart")
		}
		c.Chart, err = charts.PackageLocal(c.Local, opts.LocalCharts, opts.ModTime)
	} else {
		src := charts.Source{Repo: c.Repo, Name: entry.Chart.Name, Version: entry.Chart.Version}
		if pin, ok := opts.Lock.Chart(entry.Name); ok && pin.Name == src.Name && pin.Version == src.Version {
			src.Digest = pin.Digest
		}
		c.Chart, err = charts.Pull(ctx, src, charts.PullOptions{Store: opts.Charts})
	}
	if err != nil {
		return err
	}
	c.Rendered, err = charts.Render(c.Chart.Chart, charts.RenderOptions{
		ReleaseName: entry.ReleaseName(), Namespace: entry.Namespace,
		Values: c.Values, KubeVersion: kubeVersion,
	})
	if err != nil {
		return err
	}
	c.Workloads, err = workloads(entry, c.Rendered)
	return err
}

// KubeVersion is the Kubernetes version a K3s release's API server
// reports, which Helm on the node gives charts as
// .Capabilities.KubeVersion: the release tag itself (v1.36.2+k3s1; K3s's
// scripts/build stamps k8s.io/component-base/version.gitVersion with it);
// Helm's default when the release is local files of unknown version.
func KubeVersion(k site.K3s) string {
	if k.Version != "" {
		return k.Version
	}
	return chartutil.DefaultCapabilities.KubeVersion.Version
}

// kubeMinor is the "1.36" of "v1.36.2".
func kubeMinor(version string) string {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// collectImages adds to needs the images every component's rendered
// chart names and its run-time images (derived from values and render).
func collectImages(needs needSet, comps []*Component) error {
	for _, c := range comps {
		uses, err := charts.Images(c.Chart.Chart, c.Rendered)
		if err != nil {
			return fmt.Errorf("%s: %w", c.what(), err)
		}
		for _, u := range uses {
			from := u.From
			if c.Origin == OriginSite {
				// "site chart iris-model, chart tiny-model-server: Deployment ..."
				from = make([]string, len(u.From))
				for i, f := range u.From {
					from[i] = "site chart " + c.Catalog.Name + ", " + f
				}
			}
			needs.add(u.Image, c.Catalog.Name, from...)
		}
		runtime, err := componentRuntimeImages(c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.what(), err)
		}
		for _, img := range runtime {
			needs.add(img.Ref, c.Catalog.Name, img.From+": "+img.Why)
		}
	}
	return nil
}
