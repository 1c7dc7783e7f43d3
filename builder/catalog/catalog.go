// Package catalog reads the platform catalog: one YAML file per component of
// the ML platform (object storage, MLflow, JupyterHub, ...), each naming the
// Helm chart that installs it (repository, name, pinned version), the values
// that suit a small on-prem cluster, where the images it starts at run time
// (that its chart does not name as container images) are named, how
// firstboot tells it is ready, and where an operator reaches it.
//
// The default catalog is images/catalog in this repository, embedded in the
// builder (images.Catalog). Files are decoded strictly: an unknown key or a
// wrong type is an error naming the file and line.
//
//	cat, err := catalog.Default()
//	c, ok := cat.Component("minio")
package catalog

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ml-appliance/appliance/images"
)

// Component is one catalog entry: catalog/<Name>.yaml.
type Component struct {
	// Name is the file's base name, the key site.yaml's platform section
	// uses.
	Name string `yaml:"-"`
	// File is where the entry was read from, for messages.
	File string `yaml:"-"`

	// Description says what the component is, in one line.
	Description string `yaml:"description"`
	// Optional components are not part of the default platform.
	Optional bool `yaml:"optional"`
	// Requires names components that must be enabled with this one (MLflow
	// keeps its artifacts on the object store).
	Requires []string `yaml:"requires"`
	// Namespace the chart is installed into.
	Namespace string `yaml:"namespace"`
	// Release is the Helm release name (and the HelmChart's name); default
	// Name.
	Release string `yaml:"release"`
	// Chart is where the chart comes from.
	Chart Chart `yaml:"chart"`
	// Values are the chart values for a small on-prem cluster; the site's
	// values are merged over them.
	Values map[string]any `yaml:"values"`
	// Images are images the component starts at run time that its rendered
	// chart does not name as a container image (notebook servers, model
	// servers, workflow executors), each found where the values or the
	// render name it.
	Images []Image `yaml:"images"`
	// Readiness is how firstboot tells the component is up.
	Readiness Readiness `yaml:"readiness"`
	// Endpoints are where an operator reaches the component.
	Endpoints []Endpoint `yaml:"endpoints"`
	// Credentials says where the component's initial credentials are.
	Credentials string `yaml:"credentials"`
	// Notes are shown in the docs (licences, caveats).
	Notes string `yaml:"notes"`
}

// Chart names a pinned chart version in a repository.
type Chart struct {
	// Repo is an HTTP(S) chart repository URL (with index.yaml) or
	// oci://registry/path.
	Repo string `yaml:"repo"`
	// Name is the chart's name in the repository.
	Name string `yaml:"name"`
	// Version is the exact chart version.
	Version string `yaml:"version"`
}

// Readiness says when a component counts as ready.
type Readiness struct {
	// Timeout bounds the wait after the chart's install job completes.
	Timeout Duration `yaml:"timeout"`
	// Workloads are the Deployments, StatefulSets and DaemonSets that
	// must be ready, as Kind/name in the component's namespace. Empty means
	// every one the rendered chart creates.
	Workloads []string `yaml:"workloads"`
}

// Endpoint is a service an operator reaches.
type Endpoint struct {
	// Name says what it is ("console", "S3 API", "UI").
	Name string `yaml:"name"`
	// Service is the Kubernetes Service in the component's namespace.
	Service string `yaml:"service"`
	// Port is the Service port.
	Port int `yaml:"port"`
	// Scheme is http or https; default http.
	Scheme string `yaml:"scheme"`
	// Path is appended to the URL ("/", "/hub/").
	Path string `yaml:"path"`
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration time.Duration

// DefaultTimeout is a component's readiness timeout when it sets none.
const DefaultTimeout = Duration(10 * time.Minute)

// Catalog is a checked set of components.
type Catalog struct {
	components []*Component // sorted by Name
}

// Default is the catalog embedded in the builder (images/catalog), read
// once: site validation, the build and the CLI share it, so callers must
// not modify it.
var Default = sync.OnceValues(func() (*Catalog, error) {
	return Load(images.Catalog, "catalog")
})

// Components lists every component, sorted by name.
func (c *Catalog) Components() []*Component { return c.components }

// Names lists every component's name, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.components))
	for i, comp := range c.components {
		out[i] = comp.Name
	}
	return out
}

// Component returns the named component.
func (c *Catalog) Component(name string) (*Component, bool) {
	i, ok := slices.BinarySearchFunc(c.components, name, func(comp *Component, n string) int {
		switch {
		case comp.Name < n:
			return -1
		case comp.Name > n:
			return 1
		}
		return 0
	})
	if !ok {
		return nil, false
	}
	return c.components[i], true
}

// ReleaseName is the Helm release (and HelmChart) name.
func (c *Component) ReleaseName() string {
	if c.Release != "" {
		return c.Release
	}
	return c.Name
}

// String renders the duration as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// String renders "name version from repo", for messages.
func (ch Chart) String() string {
	return fmt.Sprintf("%s %s from %s", ch.Name, ch.Version, ch.Repo)
}
