package platform

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/charts"
)

// renderedObject is one object of a rendered chart, decoded.
type renderedObject struct {
	Kind, Namespace, Name string
	Hook                  bool
	Body                  map[string]any
}

// renderedObjects decodes every manifest of r; an object without a
// namespace is in namespace (the release's).
func renderedObjects(r *charts.Rendered, namespace string) ([]renderedObject, error) {
	var out []renderedObject
	for _, m := range r.Manifests {
		var body map[string]any
		if err := yaml.Unmarshal([]byte(m.Content), &body); err != nil {
			return nil, fmt.Errorf("chart %s: parse %s: %w", r.Chart, m.Template, err)
		}
		if body == nil {
			continue
		}
		o := renderedObject{Hook: m.Hook, Body: body, Namespace: namespace}
		o.Kind, _ = body["kind"].(string)
		meta, _ := body["metadata"].(map[string]any)
		o.Name, _ = meta["name"].(string)
		if ns, _ := meta["namespace"].(string); ns != "" {
			o.Namespace = ns
		}
		out = append(out, o)
	}
	return out, nil
}

// String is "Deployment ns/name", or "hook Job ns/name".
func (o renderedObject) String() string {
	s := o.Kind + " " + o.Namespace + "/" + o.Name
	if o.Hook {
		s = "hook " + s
	}
	return s
}

// container is one container of a rendered workload.
type container struct {
	Object *renderedObject
	Name   string
	// Argv is the command then the args, as the container runs them.
	Argv []string
	// Env lists the container's environment variables.
	Env []envVar
}

type envVar struct {
	Name  string
	Value string
	// FromRef is true for a valueFrom (a Secret, ConfigMap or field
	// reference): no literal value.
	FromRef bool
}

func (c container) String() string { return c.Object.String() + " container " + c.Name }

// containers lists o's containers, init and ephemeral ones included; none
// when o is not a workload.
func (o *renderedObject) containers() []container {
	spec, ok := charts.PodSpec(o.Body)
	if !ok {
		return nil
	}
	var out []container
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := spec[field].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			c := container{Object: o}
			c.Name, _ = m["name"].(string)
			for _, k := range []string{"command", "args"} {
				l, _ := m[k].([]any)
				for _, a := range l {
					s, _ := a.(string)
					c.Argv = append(c.Argv, s)
				}
			}
			env, _ := m["env"].([]any)
			for _, e := range env {
				em, _ := e.(map[string]any)
				v := envVar{}
				v.Name, _ = em["name"].(string)
				v.Value, _ = em["value"].(string)
				_, v.FromRef = em["valueFrom"]
				c.Env = append(c.Env, v)
			}
			out = append(out, c)
		}
	}
	return out
}

// flagValues returns the value of every occurrence of flag in argv,
// written "--flag=value" or "--flag value".
func flagValues(argv []string, flag string) []string {
	var out []string
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			out = append(out, v)
		} else if a == flag && i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
			out = append(out, argv[i+1])
		}
	}
	return out
}

// workloadsNamed lists the workload names of objs, "Kind/name", sorted,
// for messages.
func workloadsNamed(objs []renderedObject) string {
	var out []string
	for _, o := range objs {
		if _, ok := charts.PodSpec(o.Body); ok {
			out = append(out, o.Kind+"/"+o.Name)
		}
	}
	return listOrNone(out)
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	slices.Sort(items)
	return strings.Join(slices.Compact(items), ", ")
}
