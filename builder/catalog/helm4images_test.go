package catalog_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/charts"
	"github.com/ml-appliance/appliance/builder/platform"
)

// checkHelm4Release fails t for every image rel (the release Helm 4 made
// of c on the API server) would start that the build does not bake for c
// (baked: platform.Resolve's plan.Images), and for every object with an
// image that only Helm 4's release has; it logs the other differences
// between the build's Helm 3 render (c.Rendered) and the release.
func checkHelm4Release(t *testing.T, c *platform.Component, baked []platform.Need, rel *releasev1.Release) {
	t.Helper()
	f, err := compareHelm4(c.Catalog.Name, baked, c.Rendered, releaseRendered(rel))
	if err != nil {
		t.Fatalf("%s: %v", c.Catalog.File, err)
	}
	for _, n := range f.notes {
		t.Logf("Helm 3 render (build) vs Helm 4 release: %s", n)
	}
	for _, p := range f.problems {
		t.Errorf("%s: %s", c.Catalog.File, p)
	}
	t.Logf("Helm 4 release: %d objects (CRDs and hooks included), %d images; Helm 3 render: %d objects", f.objects4, f.images4, f.objects3)
}

// helm4Findings are the differences between the build's Helm 3 render of
// a component and the release Helm 4 made of it.
type helm4Findings struct {
	// problems are images the appliance would lack: failures.
	problems []string
	// notes are the other differences, sorted.
	notes []string
	// objects3, objects4 and images4 count what was compared.
	objects3, objects4, images4 int
}

// compareHelm4 compares h4 (what Helm 4 made of component, from
// releaseRendered) with h3 (the build's render of it) and with baked (the
// images the build bakes). Images are found in both with the build's own
// discovery, charts.Images, given a chart without annotations so that
// only the manifests count.
func compareHelm4(component string, baked []platform.Need, h3, h4 *charts.Rendered) (helm4Findings, error) {
	var f helm4Findings
	uses4, err := charts.Images(bareChart(h4.Chart), h4)
	if err != nil {
		return f, fmt.Errorf("Helm 4 release: %w", err)
	}
	uses3, err := charts.Images(bareChart(h3.Chart), h3)
	if err != nil {
		return f, fmt.Errorf("Helm 3 render: %w", err)
	}
	f.images4 = len(uses4)
	bakedFor := map[string][]string{}
	for _, n := range baked {
		bakedFor[n.Ref] = n.Components
	}
	in4 := map[string]bool{}
	for _, u := range uses4 {
		in4[u.Image] = true
		if slices.Contains(bakedFor[u.Image], component) {
			continue
		}
		elsewhere := ""
		if others := bakedFor[u.Image]; len(others) > 0 {
			elsewhere = " (it bakes it only for " + strings.Join(others, ", ") + ")"
		}
		for _, from := range u.From {
			f.problems = append(f.problems, fmt.Sprintf("Helm 4 release: %s starts image %s, which the build does not bake for %s%s", from, u.Image, component, elsewhere))
		}
	}
	for _, u := range uses3 {
		if !in4[u.Image] {
			f.notes = append(f.notes, fmt.Sprintf("image %s only in Helm 3's render (%s)", u.Image, strings.Join(u.From, "; ")))
		}
	}
	objs3, err := objectsOf(h3)
	if err != nil {
		return f, fmt.Errorf("Helm 3 render: %w", err)
	}
	objs4, err := objectsOf(h4)
	if err != nil {
		return f, fmt.Errorf("Helm 4 release: %w", err)
	}
	f.objects3, f.objects4 = len(objs3), len(objs4)
	f.compareObjects(objs3, objs4)
	sort.Strings(f.notes)
	return f, nil
}

// compareObjects notes every object only one side has and every object
// whose apiVersion or hook status differs; an object only Helm 4 has that
// names an image is a problem.
func (f *helm4Findings) compareObjects(objs3, objs4 map[string]renderedObject) {
	for _, key := range slices.Sorted(maps.Keys(objs4)) {
		o4 := objs4[key]
		o3, ok := objs3[key]
		switch {
		case !ok && len(o4.images) > 0:
			f.problems = append(f.problems, fmt.Sprintf("%s is only in Helm 4's release and names images %s", o4.describe(key), strings.Join(o4.images, ", ")))
		case !ok:
			f.notes = append(f.notes, fmt.Sprintf("%s only in Helm 4's release", o4.describe(key)))
		case o3.apiVersion != o4.apiVersion:
			f.notes = append(f.notes, fmt.Sprintf("%s: apiVersion %s in Helm 3's render, %s in Helm 4's release", o4.describe(key), o3.apiVersion, o4.apiVersion))
		case o3.hook != o4.hook:
			f.notes = append(f.notes, fmt.Sprintf("%s: hook %t in Helm 3's render, %t in Helm 4's release", o4.describe(key), o3.hook, o4.hook))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(objs3)) {
		if _, ok := objs4[key]; !ok {
			f.notes = append(f.notes, fmt.Sprintf("%s only in Helm 3's render", objs3[key].describe(key)))
		}
	}
}

// renderedObject is one object of a render or a release.
type renderedObject struct {
	apiVersion, template string
	hook                 bool
	// images are what charts.Images finds in it.
	images []string
}

func (o renderedObject) describe(key string) string {
	kind := "object"
	if o.hook {
		kind = "hook"
	}
	return fmt.Sprintf("%s %s (%s)", kind, key, o.template)
}

// objectsOf indexes r's objects by "Kind.group namespace/name" (the
// namespace as written). Documents of only comments are skipped, as Helm
// skips them; two objects with one key are an error.
func objectsOf(r *charts.Rendered) (map[string]renderedObject, error) {
	out := map[string]renderedObject{}
	for _, m := range r.Manifests {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(m.Content), &head); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Template, err)
		}
		if head.Kind == "" && head.APIVersion == "" {
			continue
		}
		name := head.Metadata.Name
		if head.Metadata.Namespace != "" {
			name = head.Metadata.Namespace + "/" + name
		}
		key := schema.FromAPIVersionAndKind(head.APIVersion, head.Kind).GroupKind().String() + " " + name
		if prev, ok := out[key]; ok {
			return nil, fmt.Errorf("%s twice: %s and %s", key, prev.template, m.Template)
		}
		uses, err := charts.Images(bareChart(r.Chart), &charts.Rendered{Chart: r.Chart, Manifests: []charts.Manifest{m}})
		if err != nil {
			return nil, err
		}
		o := renderedObject{apiVersion: head.APIVersion, template: m.Template, hook: m.Hook}
		for _, u := range uses {
			o.images = append(o.images, u.Image)
		}
		out[key] = o
	}
	return out, nil
}

// bareChart is a chart named name with no annotations and no subcharts:
// given to charts.Images, only the manifests' images are found.
func bareChart(name string) *chart.Chart {
	return &chart.Chart{Metadata: &chart.Metadata{Name: name}}
}

// releaseRendered is what a Helm 4 install made for rel, in the form the
// builder's image discovery reads (charts.Rendered): the CRDs of the
// chart's (and its enabled subcharts') crds/ directories, which Helm 4
// creates before rendering and keeps out of the release manifest
// (helm.sh/helm/v4 v4.1.4 pkg/action/install.go RunWithContext:
// installCRDs unless SkipCRDs; renderResources is given includeCrds
// false), then the release manifest's objects, each named by its
// "# Source:" line, then the hooks (rel.Hooks, each with its manifest).
// Documents are split as Helm 4 splits them (pkg/release/v1/util
// SplitManifests).
func releaseRendered(rel *releasev1.Release) *charts.Rendered {
	r := &charts.Rendered{Chart: rel.Chart.Name()}
	for _, crd := range rel.Chart.CRDObjects() {
		for _, doc := range splitDocs(string(crd.File.Data)) {
			r.Manifests = append(r.Manifests, charts.Manifest{Template: crd.Filename, Content: doc})
		}
	}
	for _, doc := range splitDocs(rel.Manifest) {
		m := charts.Manifest{Content: doc}
		if first, _, _ := strings.Cut(doc, "\n"); strings.HasPrefix(first, "# Source: ") {
			m.Template = strings.TrimPrefix(first, "# Source: ")
		}
		r.Manifests = append(r.Manifests, m)
	}
	for _, h := range rel.Hooks {
		r.Manifests = append(r.Manifests, charts.Manifest{Template: h.Path, Hook: true, Content: h.Manifest})
	}
	return r
}

// splitDocs cuts a YAML stream into its documents, in order.
func splitDocs(stream string) []string {
	docs := releaseutil.SplitManifests(stream)
	keys := slices.Collect(maps.Keys(docs))
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, docs[k])
	}
	return out
}
