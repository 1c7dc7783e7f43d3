package site

import (
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// Mirrors redirect the build's downloads to a factory's own mirrors, so an
// air-gapped build site needs no internet. The artifacts still name the
// upstream sources: an image pulled through a registry mirror keeps its
// upstream name and digest. (The K3s release mirror is k3s.mirror.)
type Mirrors struct {
	// Registries maps an upstream registry host (docker.io, quay.io,
	// ghcr.io, ...) to a mirror: host[:port][/path prefix]. The image's
	// repository path follows the prefix.
	Registries map[string]string `yaml:"registries"`
	// Charts maps a platform component, or a chart of the site's own from
	// a repository, to the chart repository URL (http(s) with index.yaml,
	// or oci://) to take its chart from instead.
	Charts map[string]string `yaml:"charts"`
}

// validateChartMirrors checks that each chart mirror is for a catalog
// component or a repository chart of the site's.
func (s *Site) validateChartMirrors(v *validator) {
	for _, name := range sortedKeys(s.Mirrors.Charts) {
		if msg := s.chartMirrorTarget(name); msg != "" {
			v.errorf("mirrors.charts."+name, "%s", msg)
		}
	}
}

// chartMirrorTarget says what is wrong with a chart mirror for name: ""
// when name is a catalog component or a repository chart of the site's.
func (s *Site) chartMirrorTarget(name string) string {
	for _, c := range s.Charts {
		if c.Name == name && c.Local() {
			return "the site's chart " + name + " is a local chart (path): it has no repository to mirror"
		}
		if c.Name == name {
			return ""
		}
	}
	cat, err := catalog.Default()
	if err != nil {
		return "" // the platform section reports a broken catalog
	}
	if _, ok := cat.Component(name); !ok {
		return "no such component in the catalog, nor a chart of the site's"
	}
	return ""
}

func (m *Mirrors) validate(v *validator) {
	seen := map[string]string{} // registry as go-containerregistry names it -> key
	for _, host := range sortedKeys(m.Registries) {
		p := "mirrors.registries." + host
		reg, err := name.NewRegistry(host, name.StrictValidation)
		if err != nil || strings.Contains(host, "/") {
			v.errorf(p, "%q is not a registry host (like docker.io or registry.example:5000)", host)
			continue
		}
		if other, ok := seen[reg.RegistryStr()]; ok {
			v.errorf(p, "the same registry as mirrors.registries.%s", other)
			continue
		}
		seen[reg.RegistryStr()] = host
		if err := checkRegistryMirror(m.Registries[host]); err != "" {
			v.errorf(p, "%s", err)
		}
	}
	for _, comp := range sortedKeys(m.Charts) {
		p := "mirrors.charts." + comp
		u, err := url.Parse(m.Charts[comp])
		if err != nil || !slices.Contains([]string{"http", "https", "oci"}, u.Scheme) || u.Host == "" {
			v.errorf(p, "%q: want an http(s):// chart repository URL or oci://registry/path", m.Charts[comp])
		}
	}
}

// checkRegistryMirror checks host[:port][/prefix]; "" when it is fine.
func checkRegistryMirror(m string) string {
	if strings.Contains(m, "://") {
		return "give the mirror as host[:port][/path], without a scheme"
	}
	host, prefix, _ := strings.Cut(m, "/")
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil || host == "" {
		return "mirror " + `"` + m + `"` + " does not start with a registry host"
	}
	if prefix != "" {
		if _, err := name.NewRepository(host+"/"+prefix+"/x", name.StrictValidation); err != nil {
			return "mirror path " + `"` + prefix + `"` + " is not a repository path"
		}
	}
	return ""
}
