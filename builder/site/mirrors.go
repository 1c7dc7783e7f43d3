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
	// Charts maps a platform component to the chart repository URL (http(s)
	// with index.yaml, or oci://) to take its chart from instead of the
	// catalog's.
	Charts map[string]string `yaml:"charts"`
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
	cat, catErr := catalog.Default() // a broken catalog is reported by the platform section
	for _, comp := range sortedKeys(m.Charts) {
		p := "mirrors.charts." + comp
		if catErr == nil {
			if _, ok := cat.Component(comp); !ok {
				v.errorf(p, "no such component in the catalog")
				continue
			}
		}
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
