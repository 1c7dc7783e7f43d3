package site

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// Platform enables components of the platform catalog (images/catalog, see
// docs/platform.md) by name and overrides their chart values:
//
//	platform:
//	  minio: {}
//	  mlflow: {}
//	  jupyterhub: {values: {singleuser: {memory: {limit: 4G}}}}
//
// A listed component is enabled unless it says enabled: false. Leaving the
// section out builds an image without the platform.
type Platform map[string]PlatformComponent

// PlatformComponent is one component's settings.
type PlatformComponent struct {
	// Enabled defaults to true for a listed component.
	Enabled *bool `yaml:"enabled"`
	// Values are merged over the catalog's values for the chart (maps
	// merge key by key; anything else replaces; null removes a key).
	Values Values `yaml:"values"`
	// Images are further run-time images of the component (a notebook
	// image a jupyterhub profile offers, a workflow step's image), baked
	// with the platform's.
	Images []string `yaml:"images"`
}

// Values are free-form chart values.
type Values map[string]any

func (v *Values) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping of chart values, got %s", describe(n))
	}
	m := map[string]any{}
	if err := n.Decode(&m); err != nil {
		// yaml.v3's own guard refuses an alias bomb here: "document
		// contains excessive aliasing" (decode.go decoder.unmarshal).
		return fmt.Errorf("invalid chart values: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	*v = m
	return nil
}

// Enabled lists the enabled components' names, sorted.
func (p Platform) Enabled() []string {
	var out []string
	for name, c := range p {
		if c.Enabled == nil || *c.Enabled {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (p *Platform) validate(v *validator) {
	if len(*p) == 0 {
		return
	}
	cat, err := catalog.Default()
	if err != nil {
		v.errorf("platform", "the builder's catalog is broken: %v", err)
		return
	}
	enabled := p.Enabled()
	for _, name := range sortedKeys(*p) {
		c, ok := cat.Component(name)
		if !ok {
			msg := "no such component in the catalog"
			if s := suggest(name, cat.Names()); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			v.errorf("platform."+name, "%s; it has %s", msg, strings.Join(cat.Names(), ", "))
			continue
		}
		for j, img := range (*p)[name].Images {
			checkImage(v, index("platform."+name+".images", j), img)
		}
		if !slices.Contains(enabled, name) {
			continue
		}
		for _, r := range c.Requires {
			if !slices.Contains(enabled, r) {
				v.errorf("platform."+name, "needs %s enabled too", r)
			}
		}
	}
}

// sortedKeys lists a string-keyed map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
