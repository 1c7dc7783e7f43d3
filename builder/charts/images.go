package charts

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"
)

// ImagesAnnotation is the chart annotation listing images (ArtifactHub
// format: a YAML list of {name, image}).
const ImagesAnnotation = "helm.sh/images"

// ImageUse is one image and every place that needs it.
type ImageUse struct {
	// Image is the reference exactly as written.
	Image string
	// From says where it was found, sorted, e.g.
	// "chart app: Deployment ns/web container nginx" or
	// "chart app: hook Job ns/migrate initContainer wait".
	From []string
}

// Images lists every image r's manifests and ch's (and its subcharts')
// helm.sh/images annotations reference, sorted by image. Pod specs of
// Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob give
// containers, initContainers and ephemeralContainers; any other kind gives
// every string field named "image". Call it with the chart Render was
// given: Render drops the subcharts the values disable (as Helm does), so
// their annotations are not counted.
func Images(ch *chart.Chart, r *Rendered) ([]ImageUse, error) {
	found := map[string]map[string]bool{}
	add := func(image, from string) {
		if found[image] == nil {
			found[image] = map[string]bool{}
		}
		found[image][from] = true
	}
	for _, m := range r.Manifests {
		if err := manifestImages(r.Chart, m, add); err != nil {
			return nil, err
		}
	}
	if err := annotationImages(ch, add); err != nil {
		return nil, err
	}
	out := make([]ImageUse, 0, len(found))
	for image, froms := range found {
		u := ImageUse{Image: image}
		for f := range froms {
			u.From = append(u.From, f)
		}
		slices.Sort(u.From)
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Image < out[j].Image })
	return out, nil
}

// podSpecPath is where each workload kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

func manifestImages(top string, m Manifest, add func(image, from string)) error {
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(m.Content), &obj); err != nil {
		return fmt.Errorf("chart %s: parse %s: %w", top, m.Template, err)
	}
	if obj == nil {
		return nil
	}
	prefix := "chart " + templateChart(top, m.Template) + ": "
	if m.Hook {
		prefix += "hook "
	}
	ObjectImages(prefix, obj, add)
	return nil
}

// ObjectImages calls add for every image obj, one decoded Kubernetes
// object, references, as Images finds them in a chart's manifests: with
// where it is, prefix then "Kind ns/name container c" (a pod spec of the
// kinds Images lists) or "Kind ns/name field a.b.image" (any other kind).
func ObjectImages(prefix string, obj map[string]any, add func(image, from string)) {
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	prefix += kind + " " + qualify(ns, name)
	if p, ok := podSpecPath[kind]; ok {
		spec := dig(obj, p)
		for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
			list, _ := spec[field].([]any)
			for _, c := range list {
				cm, _ := c.(map[string]any)
				img, _ := cm["image"].(string)
				cname, _ := cm["name"].(string)
				if img != "" {
					add(img, fmt.Sprintf("%s %s %s", prefix, strings.TrimSuffix(field, "s"), cname))
				}
			}
		}
		return
	}
	walkImages(obj, "", func(path, img string) { add(img, prefix+" field "+path) })
}

func qualify(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// templateChart names the (sub)chart a template belongs to:
// "app/charts/db/templates/x.yaml" is chart db.
func templateChart(top, template string) string {
	parts := strings.Split(template, "/")
	owner := top
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "charts" && i > 0 {
			owner = parts[i+1]
		}
	}
	return owner
}

func dig(obj map[string]any, path []string) map[string]any {
	cur := obj
	for _, k := range path {
		next, _ := cur[k].(map[string]any)
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// walkImages calls fn for every string field named "image", in sorted
// key order, with its dotted path (list items as [i]).
func walkImages(v any, path string, fn func(path, img string)) {
	switch t := v.(type) {
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
			if s, ok := t[k].(string); ok && k == "image" && s != "" {
				fn(p, s)
				continue
			}
			walkImages(t[k], p, fn)
		}
	case []any:
		for i, e := range t {
			walkImages(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// annotationImages reads helm.sh/images from ch and every subchart.
func annotationImages(ch *chart.Chart, add func(image, from string)) error {
	if raw := ch.Metadata.Annotations[ImagesAnnotation]; raw != "" {
		var list []struct {
			Name  string `json:"name"`
			Image string `json:"image"`
		}
		if err := yaml.Unmarshal([]byte(raw), &list); err != nil {
			return fmt.Errorf("chart %s: annotation %s: %w", ch.Name(), ImagesAnnotation, err)
		}
		for _, e := range list {
			if e.Image == "" {
				return fmt.Errorf("chart %s: annotation %s: entry %q has no image", ch.Name(), ImagesAnnotation, e.Name)
			}
			add(e.Image, "chart "+ch.Name()+": annotation "+ImagesAnnotation)
		}
	}
	for _, dep := range ch.Dependencies() {
		if err := annotationImages(dep, add); err != nil {
			return err
		}
	}
	return nil
}
