package site

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// Charts are the site's own Helm charts, installed like the platform's
// catalog components (same HelmChart path, same readiness wait, same
// `firstboot status` lines):
//
//	charts:
//	  - name: tiny-model            # release and HelmChart name
//	    namespace: models           # default: name
//	    path: charts/tiny-model     # a chart directory or .tgz beside site.yaml
//	  - name: team-operator
//	    repo: oci://registry.example/charts   # or an http(s) chart repository
//	    chart: team-operator
//	    version: 1.4.2
//	    valuesFiles: [team-operator-values.yaml]
//	    values: {replicas: 1}
//
// The fields follow K3s's HelmChart (repo, chart, version) and the catalog's
// (readiness, endpoints, images).
type Charts []Chart

// Chart is one chart of the site's own.
type Chart struct {
	// Name is the Helm release and the HelmChart object's name: unique
	// among the site's charts, the catalog's components and K3s's own
	// manifests.
	Name string `yaml:"name"`
	// Description says what it is, for `firstboot status` and the docs.
	Description string `yaml:"description"`
	// Namespace the release is installed into; default Name.
	Namespace string `yaml:"namespace"`
	// Repo, Chart and Version pick a chart from an http(s) chart
	// repository or an oci:// registry location; Path is the alternative.
	Repo    string `yaml:"repo"`
	Chart   string `yaml:"chart"`
	Version string `yaml:"version"`
	// Path is a chart directory or .tgz, relative to the config file.
	Path string `yaml:"path"`
	// ValuesFiles are YAML files of values, merged in order (relative to
	// the config file); Values are merged over them, as `helm -f FILE
	// --set` would.
	ValuesFiles []string `yaml:"valuesFiles"`
	Values      Values   `yaml:"values"`
	// Images are images the release starts at run time that its rendered
	// chart does not name.
	Images []string `yaml:"images"`
	// Readiness is what firstboot waits for; default: every Deployment,
	// StatefulSet and DaemonSet the chart renders, for 10 minutes.
	Readiness Readiness `yaml:"readiness"`
	// Endpoints are where an operator reaches the release.
	Endpoints []Endpoint `yaml:"endpoints"`

	// valuesFromFiles are ValuesFiles read and merged by validation.
	valuesFromFiles []map[string]any
}

// Readiness says when a chart of the site's counts as ready.
type Readiness struct {
	Timeout Duration `yaml:"timeout"`
	// Workloads are Kind/name (Deployment, StatefulSet or DaemonSet) in
	// the chart's namespace.
	Workloads []string `yaml:"workloads"`
}

// Endpoint is a Service an operator reaches.
type Endpoint struct {
	Name    string `yaml:"name"`
	Service string `yaml:"service"`
	Port    Port   `yaml:"port"`
	Scheme  string `yaml:"scheme"`
	Path    string `yaml:"path"`
}

// Duration is a time.Duration written as "10m" or "90s".
type Duration time.Duration

func (d *Duration) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return fmt.Errorf("expected a duration like 10m or 90s, got %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a positive duration like 10m or 90s", n.Value)
	}
	*d = Duration(v)
	return nil
}

// Port is a TCP port, 1-65535.
type Port int

func (p *Port) decodeNode(n *yaml.Node) error {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || v < 1 || v > 65535 {
		return fmt.Errorf("expected a port number 1-65535, got %s", describe(n))
	}
	*p = Port(v)
	return nil
}

// Local reports whether the chart is a directory or archive beside the
// config rather than one in a repository.
func (c Chart) Local() bool { return c.Path != "" }

// MergedValuesFiles returns ValuesFiles' contents, in order (read when the
// config was validated).
func (c Chart) MergedValuesFiles() []map[string]any { return c.valuesFromFiles }

func (cs *Charts) setDefaults(*Site) {
	for i := range *cs {
		c := &(*cs)[i]
		if c.Namespace == "" {
			c.Namespace = c.Name
		}
	}
}

func (cs *Charts) resolvePaths(dir string) {
	for i := range *cs {
		c := &(*cs)[i]
		c.Path = resolve(dir, c.Path)
		for j := range c.ValuesFiles {
			c.ValuesFiles[j] = resolve(dir, c.ValuesFiles[j])
		}
	}
}

func (cs *Charts) validate(v *validator) {
	seen := map[string]string{}
	for i := range *cs {
		c := &(*cs)[i]
		p := index("charts", i)
		if !dnsLabel.MatchString(c.Name) {
			v.errorf(p+".name", "invalid name %q: %s", c.Name, dnsLabelRule)
		} else if first, ok := seen[c.Name]; ok {
			v.errorf(p+".name", "%q is the name of %s too: release names must be unique", c.Name, first)
		} else {
			seen[c.Name] = p
		}
		if !dnsLabel.MatchString(c.Namespace) {
			v.errorf(p+".namespace", "invalid namespace %q: %s", c.Namespace, dnsLabelRule)
		}
		c.validateSource(v, p)
		c.readValuesFiles(v, p)
		for j, img := range c.Images {
			checkImage(v, index(p+".images", j), img)
		}
		for j, w := range c.Readiness.Workloads {
			kind, n, ok := strings.Cut(w, "/")
			if !ok || !slices.Contains(catalog.WorkloadKinds, kind) || !dnsLabel.MatchString(n) {
				v.errorf(index(p+".readiness.workloads", j), "%q: want Kind/name with Kind one of %s", w, strings.Join(catalog.WorkloadKinds, ", "))
			}
		}
		for j, e := range c.Endpoints {
			ep := index(p+".endpoints", j)
			if e.Name == "" {
				v.errorf(ep+".name", "required: say what it is (\"UI\", \"API\")")
			}
			if !dnsLabel.MatchString(e.Service) {
				v.errorf(ep+".service", "invalid Service name %q: %s", e.Service, dnsLabelRule)
			}
			if e.Port == 0 {
				v.errorf(ep+".port", "required")
			}
			if e.Scheme != "" && e.Scheme != "http" && e.Scheme != "https" {
				v.errorf(ep+".scheme", "%q: want http or https", e.Scheme)
			}
		}
	}
}

// validateSource checks that the chart comes from exactly one place.
func (c *Chart) validateSource(v *validator, p string) {
	repo := c.Repo != "" || c.Chart != "" || c.Version != ""
	switch {
	case c.Path != "" && repo:
		v.errorf(p, "give either path (a local chart) or repo, chart and version, not both")
		return
	case c.Path != "":
		return // a local input: CheckInputs loads it
	case !repo:
		v.errorf(p, "say where the chart comes from: path (a chart directory or .tgz) or repo, chart and version")
		return
	}
	u, err := url.Parse(c.Repo)
	switch {
	case c.Repo == "":
		v.errorf(p+".repo", "required with chart and version (an http(s) chart repository or oci://registry/path)")
	case err != nil || !slices.Contains([]string{"http", "https", "oci"}, u.Scheme) || u.Host == "":
		v.errorf(p+".repo", "%q: want an http(s):// chart repository URL or oci://registry/path", c.Repo)
	}
	if c.Chart == "" {
		v.errorf(p+".chart", "required: the chart's name in the repository")
	} else if strings.ContainsAny(c.Chart, "/:@ ") {
		v.errorf(p+".chart", "%q: a chart name, without repository or version", c.Chart)
	}
	if !catalog.ExactVersion.MatchString(c.Version) {
		v.errorf(p+".version", "%q: want an exact version (x.y.z), not a range: the build pins it", c.Version)
	}
}
