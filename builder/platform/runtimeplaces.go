package platform

import (
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// fromContainer reads the image from an arg or env var of a container of
// a rendered workload.
func fromContainer(s *catalog.Source, objs []renderedObject) ([]derived, error) {
	kind, name, _ := strings.Cut(s.Workload, "/")
	var out []derived
	workloads, containers := 0, 0
	var others []string
	for i := range objs {
		o := &objs[i]
		if o.Kind != kind || o.Name != name {
			continue
		}
		workloads++
		for _, c := range o.containers() {
			if c.Name != s.Container {
				others = append(others, c.Name)
				continue
			}
			containers++
			var values []string
			var where, have string
			if s.Kind() == catalog.SourceArg {
				values, where, have = flagValues(c.Argv, s.Arg), "arg "+s.Arg, "its command line is "+quoteAll(c.Argv)
			} else {
				values, where, have = envValues(c.Env, s.Env), "env "+s.Env, "its environment has "+envNames(c.Env)
			}
			if len(values) == 0 {
				return nil, notThere("%s has no %s (%s)", c, where, have)
			}
			for _, v := range values {
				ref, err := imageFromValue(v)
				if errors.Is(err, errNoImage) {
					return nil, notThere("%s %s is empty", c, where)
				}
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", c, where, err)
				}
				out = append(out, derived{ref: ref, where: c.String() + " " + where})
			}
		}
	}
	switch {
	case workloads == 0:
		return nil, notThere("the render has no %s (its workloads: %s)", s.Workload, workloadsNamed(objs))
	case containers == 0:
		return nil, notThere("%s has no container %s (it has %s)", s.Workload, s.Container, listOrNone(others))
	}
	return out, nil
}

// envValues returns the literal values of every variable called name.
func envValues(env []envVar, name string) []string {
	var out []string
	for _, e := range env {
		if e.Name == name && !e.FromRef {
			out = append(out, e.Value)
		}
	}
	return out
}

func envNames(env []envVar) string {
	var names []string
	for _, e := range env {
		n := e.Name
		if e.FromRef {
			n += " (valueFrom)"
		}
		names = append(names, n)
	}
	return listOrNone(names)
}

func quoteAll(argv []string) string {
	if len(argv) == 0 {
		return "empty"
	}
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// fromConfigMap reads the image from a key of a rendered ConfigMap's data:
// the value itself, or what Path reaches in it parsed as JSON or YAML.
func fromConfigMap(s *catalog.Source, objs []renderedObject) ([]derived, error) {
	var out []derived
	var names []string
	seen := false
	for i := range objs {
		o := &objs[i]
		if o.Kind != "ConfigMap" {
			continue
		}
		if o.Name != s.ConfigMap {
			names = append(names, o.Name)
			continue
		}
		seen = true
		data, _ := o.Body["data"].(map[string]any)
		text, ok := data[s.Key].(string)
		if !ok {
			return nil, notThere("%s has no data key %s (it has %s)", o, s.Key, listOrNone(mapKeys(data)))
		}
		where := fmt.Sprintf("%s key %s", o, s.Key)
		p := s.ConfigPath()
		if p.IsZero() {
			ref, err := imageFromValue(text)
			if errors.Is(err, errNoImage) {
				return nil, notThere("%s is empty", where)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, derived{ref: ref, where: where})
			continue
		}
		var doc any
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			return nil, fmt.Errorf("%s: not JSON or YAML: %w", where, err)
		}
		found, err := fromDocument(p, doc, where+" path ")
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	if !seen {
		return nil, notThere("the render has no ConfigMap %s (its ConfigMaps: %s)", s.ConfigMap, listOrNone(names))
	}
	return out, nil
}
