package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"gopkg.in/yaml.v3"
)

// Load reads every dir/*.yaml in fsys as one component, decoding strictly
// and checking each. All problems are returned together, each naming the
// file (and line where the decoder knows it).
func Load(fsys fs.FS, dir string) (*Catalog, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("catalog %s: no component files (*.yaml)", dir)
	}
	cat := &Catalog{}
	var errs []error
	for _, f := range files {
		c, err := loadComponent(fsys, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cat.components = append(cat.components, c)
	}
	slices.SortFunc(cat.components, func(a, b *Component) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range cat.components {
		for _, r := range c.Requires {
			if _, ok := cat.Component(r); !ok {
				errs = append(errs, fmt.Errorf("%s: requires: no component %q in the catalog", c.File, r))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cat, nil
}

func loadComponent(fsys fs.FS, file string) (*Component, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	c := &Component{}
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c.Name = strings.TrimSuffix(path.Base(file), ".yaml")
	c.File = file
	if c.Readiness.Timeout == 0 {
		c.Readiness.Timeout = DefaultTimeout
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// dnsLabel is a Kubernetes namespace or release name (RFC 1123 label).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// WorkloadKinds are the kinds a readiness rule can wait for.
var WorkloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// check validates a decoded component, joining every problem.
func (c *Component) check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !dnsLabel.MatchString(c.Name) {
		bad("name", "file name %q is not a lowercase DNS label", c.Name)
	}
	if c.Description == "" {
		bad("description", "required")
	}
	if !dnsLabel.MatchString(c.Namespace) {
		bad("namespace", "%q is not a lowercase DNS label", c.Namespace)
	}
	if c.Release != "" && !dnsLabel.MatchString(c.Release) {
		bad("release", "%q is not a lowercase DNS label", c.Release)
	}
	// The HelmChart manifest is named after the release, in the directory
	// K3s applies its own manifests from (payload.K3sAddonNames).
	if slices.Contains(payload.K3sAddonNames, c.ReleaseName()) {
		bad("release", "%q is the name of one of K3s's own manifests or of a component `k3s server --disable` removes; set another release name", c.ReleaseName())
	}
	errs = append(errs, c.Chart.check()...)
	for i, img := range c.Images {
		errs = append(errs, img.check(fmt.Sprintf("images[%d]", i))...)
	}
	for i, w := range c.Readiness.Workloads {
		kind, n, ok := strings.Cut(w, "/")
		if !ok || !slices.Contains(WorkloadKinds, kind) || !dnsLabel.MatchString(n) {
			bad(fmt.Sprintf("readiness.workloads[%d]", i), "%q is not Kind/name with Kind one of %s", w, strings.Join(WorkloadKinds, ", "))
		}
	}
	if c.Readiness.Timeout < 0 {
		bad("readiness.timeout", "must be positive")
	}
	for i, e := range c.Endpoints {
		if e.Name == "" || !dnsLabel.MatchString(e.Service) || e.Port < 1 || e.Port > 65535 {
			bad(fmt.Sprintf("endpoints[%d]", i), "needs a name, a service (DNS label) and a port 1-65535")
		}
		if e.Scheme != "" && e.Scheme != "http" && e.Scheme != "https" {
			bad(fmt.Sprintf("endpoints[%d].scheme", i), "%q: want http or https", e.Scheme)
		}
	}
	for i, r := range c.Requires {
		if r == c.Name {
			bad(fmt.Sprintf("requires[%d]", i), "a component cannot require itself")
		}
	}
	return errors.Join(errs...)
}

func (ch Chart) check() []error {
	var errs []error
	switch {
	case ch.Repo == "":
		errs = append(errs, errors.New("chart.repo: required"))
	case !strings.HasPrefix(ch.Repo, "https://") && !strings.HasPrefix(ch.Repo, "http://") && !strings.HasPrefix(ch.Repo, "oci://"):
		errs = append(errs, fmt.Errorf("chart.repo: %q: want an http(s):// chart repository or oci://registry/path", ch.Repo))
	}
	if ch.Name == "" {
		errs = append(errs, errors.New("chart.name: required"))
	}
	if !ExactVersion.MatchString(ch.Version) {
		errs = append(errs, fmt.Errorf("chart.version: %q: want an exact version (x.y.z), not a range", ch.Version))
	}
	return errs
}

// ExactVersion is a semantic version without range operators: how a
// chart is pinned, in the catalog and in site.yaml's charts.
var ExactVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$`)

// CheckImageRef rejects references that cannot be pinned: unparsable ones
// and those without a tag or digest, or tagged "latest" (which moves). A
// reference without a registry (nginx:1.27) is Docker Hub's, as in a pod
// spec.
func CheckImageRef(ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("%q: %v", ref, err)
	}
	if t, ok := r.(name.Tag); ok {
		// ParseReference defaults a missing tag to latest: tell the two apart.
		if !strings.HasSuffix(ref, ":"+t.TagStr()) {
			return fmt.Errorf("%q has no tag or digest: pin one", ref)
		}
		if t.TagStr() == "latest" {
			return fmt.Errorf("%q: the latest tag moves; pin a version", ref)
		}
	}
	return nil
}

// UnmarshalYAML reads "10m", "90s", "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 10m or 90s", n.Line, s)
	}
	*d = Duration(v)
	return nil
}
