package platform

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/charts"
)

// workloads are the Kind/name workloads firstboot waits for: the catalog's
// list, each checked against the rendered chart (so a chart update that
// renames one fails the build, not the first boot), or, when the catalog
// lists none, every Deployment, StatefulSet and DaemonSet the chart creates
// outside hooks.
func workloads(entry *catalog.Component, r *charts.Rendered) ([]string, error) {
	rendered, err := renderedWorkloads(entry.Namespace, r)
	if err != nil {
		return nil, err
	}
	if len(entry.Readiness.Workloads) == 0 {
		if len(rendered) == 0 {
			return nil, fmt.Errorf("chart %s renders no Deployment, StatefulSet or DaemonSet in namespace %s to wait for; list readiness.workloads in %s",
				r.Chart, entry.Namespace, entry.File)
		}
		return rendered, nil
	}
	for _, w := range entry.Readiness.Workloads {
		if !slices.Contains(rendered, w) {
			return nil, fmt.Errorf("%s: readiness workload %s is not in the rendered chart %s (it has %s)",
				entry.File, w, r.Chart, strings.Join(rendered, ", "))
		}
	}
	return slices.Clone(entry.Readiness.Workloads), nil
}

// renderedWorkloads lists the non-hook workloads in namespace ns (a
// manifest without a namespace is in the release's), sorted.
func renderedWorkloads(ns string, r *charts.Rendered) ([]string, error) {
	var out []string
	for _, m := range r.Manifests {
		if m.Hook {
			continue
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(m.Content), &obj); err != nil {
			return nil, fmt.Errorf("chart %s: parse %s: %w", r.Chart, m.Template, err)
		}
		if !slices.Contains(catalog.WorkloadKinds, obj.Kind) {
			continue
		}
		if obj.Metadata.Namespace != "" && obj.Metadata.Namespace != ns {
			continue
		}
		out = append(out, obj.Kind+"/"+obj.Metadata.Name)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
