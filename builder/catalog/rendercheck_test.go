package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/charts"
)

// object is one rendered manifest, parsed.
type object struct {
	Kind, Name, Namespace string // Namespace "" is the release's
	Hook                  bool
	Template              string
	Body                  map[string]any
}

// in reports whether o is in namespace ns (a manifest without a namespace
// is in the release's).
func (o object) in(ns string) bool { return o.Namespace == "" || o.Namespace == ns }

func (o object) String() string {
	s := o.Kind + " " + o.Name
	if o.Hook {
		s = "hook " + s
	}
	return s
}

func parseObjects(r *charts.Rendered) ([]object, error) {
	var out []object
	for _, m := range r.Manifests {
		var body map[string]any
		if err := yaml.Unmarshal([]byte(m.Content), &body); err != nil {
			return nil, fmt.Errorf("chart %s: parse %s: %w", r.Chart, m.Template, err)
		}
		if body == nil {
			continue
		}
		o := object{Hook: m.Hook, Template: m.Template, Body: body}
		o.Kind, _ = body["kind"].(string)
		meta, _ := body["metadata"].(map[string]any)
		o.Name, _ = meta["name"].(string)
		o.Namespace, _ = meta["namespace"].(string)
		out = append(out, o)
	}
	return out, nil
}

// checkRender checks what the catalog promises about c against the chart
// ch rendered as r: every image pinned, no imagePullPolicy Always, no
// LoadBalancer Service, the readiness workloads and endpoint Services
// present, single replicas. It returns every problem found. That every
// image the manifests name in arguments, environment or configuration is
// baked (rendered, or derived by c.Images) is checked with the build's own
// derivation in package catalog_test (runtimeimages_test.go, TextImages).
func checkRender(c *Component, ch *chart.Chart, r *charts.Rendered) []string {
	objs, err := parseObjects(r)
	if err != nil {
		return []string{err.Error()}
	}
	uses, err := charts.Images(ch, r)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, u := range uses {
		if err := CheckImageRef(u.Image); err != nil {
			problems = append(problems, fmt.Sprintf("image %v (%s)", err, strings.Join(u.From, "; ")))
		}
	}
	for _, o := range objs {
		if o.Kind == "CustomResourceDefinition" {
			continue // schemas and their examples, not objects
		}
		problems = append(problems, pullPolicyAlways(o)...)
		if o.Hook {
			continue
		}
		if o.Kind == "Service" && dig(o.Body, "spec", "type") == "LoadBalancer" {
			problems = append(problems, fmt.Sprintf("Service %s is type LoadBalancer: it would take a ServiceLB port from Traefik; use ClusterIP", o.Name))
		}
		if n, ok := dig(o.Body, "spec", "replicas").(float64); ok && n > 1 {
			problems = append(problems, fmt.Sprintf("%s has %d replicas; a small cluster runs 1", o, int(n)))
		}
	}
	problems = append(problems, missingWorkloads(c, objs)...)
	problems = append(problems, missingEndpoints(c, objs)...)
	return problems
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// embeddedAlways finds "imagePullPolicy: Always" inside strings: controller
// configuration kept as YAML in a ConfigMap.
var embeddedAlways = regexp.MustCompile(`(?i)(imagePullPolicy|pullPolicy)"?\s*[:=]\s*"?Always\b`)

// pullPolicyAlways finds every imagePullPolicy (or pullPolicy) set to
// Always in o, as a field or inside a string.
func pullPolicyAlways(o object) []string {
	var out []string
	walkStrings(o.Body, "", func(path, key, s string) {
		if (key == "imagePullPolicy" || key == "pullPolicy") && s == "Always" {
			out = append(out, fmt.Sprintf("%s: %s is Always; an air-gapped node cannot pull, use IfNotPresent", o, path))
		} else if embeddedAlways.MatchString(s) {
			out = append(out, fmt.Sprintf("%s: %s sets an image pull policy Always in its text; use IfNotPresent", o, path))
		}
	})
	return out
}

// walkStrings calls fn for every string in v with its dotted path and the
// map key it is under (a list item's is its list's).
func walkStrings(v any, path string, fn func(path, key, s string)) {
	walkStringsUnder(v, path, "", fn)
}

func walkStringsUnder(v any, path, key string, fn func(path, key, s string)) {
	switch t := v.(type) {
	case string:
		fn(path, key, t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkStringsUnder(t[k], p, k, fn)
		}
	case []any:
		for i, e := range t {
			walkStringsUnder(e, fmt.Sprintf("%s[%d]", path, i), key, fn)
		}
	}
}

func missingWorkloads(c *Component, objs []object) []string {
	var out []string
	for _, w := range c.Readiness.Workloads {
		kind, n, _ := strings.Cut(w, "/")
		if !slices.ContainsFunc(objs, func(o object) bool { return !o.Hook && o.Kind == kind && o.Name == n && o.in(c.Namespace) }) {
			out = append(out, fmt.Sprintf("readiness workload %s is not rendered in namespace %s (rendered: %s)", w, c.Namespace, strings.Join(renderedWorkloads(objs), ", ")))
		}
	}
	return out
}

func renderedWorkloads(objs []object) []string {
	var out []string
	for _, o := range objs {
		if !o.Hook && slices.Contains(WorkloadKinds, o.Kind) {
			out = append(out, o.Kind+"/"+o.Name)
		}
	}
	slices.Sort(out)
	return out
}

func missingEndpoints(c *Component, objs []object) []string {
	var out []string
	for _, e := range c.Endpoints {
		i := slices.IndexFunc(objs, func(o object) bool { return !o.Hook && o.Kind == "Service" && o.Name == e.Service && o.in(c.Namespace) })
		if i < 0 {
			out = append(out, fmt.Sprintf("endpoint %q: Service %s is not rendered in namespace %s", e.Name, e.Service, c.Namespace))
			continue
		}
		ports, _ := dig(objs[i].Body, "spec", "ports").([]any)
		var have []string
		found := false
		for _, p := range ports {
			n, _ := dig(p, "port").(float64)
			have = append(have, fmt.Sprint(n))
			found = found || int(n) == e.Port
		}
		if !found {
			out = append(out, fmt.Sprintf("endpoint %q: Service %s has no port %d (it has %s)", e.Name, e.Service, e.Port, strings.Join(have, ", ")))
		}
	}
	return out
}

// imageInText finds image references inside strings (arguments,
// environment values, configuration): a registry host with a dot, a path
// and a tag.
var imageInText = regexp.MustCompile(`\b[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z]{2,}(?::[0-9]+)?/[a-z0-9]+(?:[._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`)

// textImage is an image reference found inside a string of a rendered
// object: an argument, an environment value, configuration text.
type textImage struct {
	Ref, Where string
}

// textImages finds images the manifests name outside image fields (a
// controller's --executor-image flag, an operator's sidecar image in a
// ConfigMap), CRDs aside: every one must be baked, either rendered as a
// container image or derived by a catalog images rule.
func textImages(objs []object) []textImage {
	var out []textImage
	for _, o := range objs {
		if o.Kind == "CustomResourceDefinition" {
			continue
		}
		walkStrings(o.Body, "", func(path, key, s string) {
			if key == "image" {
				return // an image field: charts.Images counts it
			}
			for _, ref := range imageInText.FindAllString(s, -1) {
				out = append(out, textImage{Ref: ref, Where: fmt.Sprintf("%s: %s", o, path)})
			}
		})
	}
	return out
}

// canonicalImage is ref fully qualified (docker.io/library/...), so two
// spellings of one image compare equal.
func canonicalImage(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Name()
}
