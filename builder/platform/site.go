package platform

import (
	"fmt"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/manifests"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Where a component comes from (Component.Origin).
const (
	// OriginCatalog is a component of the platform catalog.
	OriginCatalog = "catalog"
	// OriginSite is a chart of the site's own (site.yaml charts).
	OriginSite = payload.OriginSite
)

// what names c in messages: "platform minio", "site chart iris-model".
func (c *Component) what() string {
	if c.Origin == OriginSite {
		return "site chart " + c.Catalog.Name
	}
	return "platform " + c.Catalog.Name
}

// siteComponent makes the site's chart i into a component, its entry
// built as a catalog entry would be, so everything after (render,
// workloads, HelmChart, platform.json, firstboot's wait) treats both alike.
func siteComponent(s *site.Site, i int) *Component {
	sc := s.Charts[i]
	field := fmt.Sprintf("charts[%d]", i)
	entry := &catalog.Component{
		Name: sc.Name, File: field,
		Description: sc.Description, Namespace: sc.Namespace, Release: sc.Name,
		Chart:     catalog.Chart{Repo: sc.Repo, Name: sc.Chart, Version: sc.Version},
		Readiness: catalog.Readiness{Timeout: catalog.Duration(sc.Readiness.Timeout), Workloads: sc.Readiness.Workloads},
	}
	if where := s.Where(field); where != "" {
		entry.File = where + ": " + field // site.yaml:14: charts[1]
	}
	if entry.Description == "" {
		entry.Description = "the site's chart " + sc.Name
	}
	if entry.Readiness.Timeout == 0 {
		entry.Readiness.Timeout = catalog.DefaultTimeout
	}
	for _, e := range sc.Endpoints {
		entry.Endpoints = append(entry.Endpoints, catalog.Endpoint{Name: e.Name, Service: e.Service, Port: int(e.Port), Scheme: e.Scheme, Path: e.Path})
	}
	values := map[string]any{}
	for _, f := range sc.MergedValuesFiles() {
		values = MergeValues(values, f)
	}
	c := &Component{Catalog: entry, Origin: OriginSite, Local: sc.Path, Repo: sc.Repo,
		Values: MergeValues(values, sc.Values)}
	if m, ok := s.Mirrors.Charts[sc.Name]; ok && !sc.Local() {
		c.Repo = m
	}
	return c
}

// addSiteImages adds to needs the images the site names itself: each
// component's platform.<name>.images, each site chart's images, the
// images of the site's manifests (set, nil for none) and the top-level
// images.
func addSiteImages(needs needSet, s *site.Site, comps []*Component, set *manifests.Set) {
	for _, c := range comps {
		var refs []string
		var from string
		switch c.Origin {
		case OriginCatalog:
			refs, from = s.Platform[c.Catalog.Name].Images, "site platform."+c.Catalog.Name+".images"
		case OriginSite:
			for _, sc := range s.Charts {
				if sc.Name == c.Catalog.Name {
					refs = sc.Images
				}
			}
			from = "site chart " + c.Catalog.Name + ": images"
		}
		for _, ref := range refs {
			needs.add(ref, c.Catalog.Name, from)
		}
	}
	if set != nil {
		for _, u := range set.Images() {
			needs.add(u.Image, "site", u.From...)
		}
	}
	for _, ref := range s.Images {
		needs.add(ref, "site", "site images")
	}
}
