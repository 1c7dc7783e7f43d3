package platform

import (
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/charts"
)

// RuntimeImage is an image a component starts at run time, derived from
// where its catalog entry says the values or the render name it.
type RuntimeImage struct {
	// Ref is the image reference as found.
	Ref string
	// From says where it was found, for `builder images --why`: "catalog
	// argo-workflows: Deployment argo/argo-workflows-workflow-controller
	// container controller arg --executor-image", or "catalog db" for a
	// fixed ref.
	From string
	// Why is the entry's why.
	Why string
}

// RuntimeImages derives entry's run-time images (entry.Images) from
// values, the values the chart is rendered with (its defaults with the
// merged values over them: RenderValues), and r, its render. An entry
// whose place holds nothing fails, unless it is optional, naming the
// entry's file and line, the place, and what the values or the render
// have there instead; so does a reference that is not pinned.
func RuntimeImages(entry *catalog.Component, values map[string]any, r *charts.Rendered) ([]RuntimeImage, error) {
	var objs []renderedObject
	if r != nil {
		var err error
		if objs, err = renderedObjects(r, entry.Namespace); err != nil {
			return nil, err
		}
	}
	var out []RuntimeImage
	var errs []error
	for i, img := range entry.Images {
		if img.From == nil {
			out = append(out, RuntimeImage{Ref: img.Ref, From: "catalog " + entry.Name, Why: img.Why})
			continue
		}
		found, err := derive(img.From, values, objs)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: images[%d] (from %s): %w", entry.File, img.Line, i, img.From, err))
			continue
		}
		for _, f := range found {
			out = append(out, RuntimeImage{Ref: f.ref, From: "catalog " + entry.Name + ": " + f.where, Why: img.Why})
		}
	}
	return out, errors.Join(errs...)
}

// RenderValues are the values Helm renders ch with: its defaults (and its
// subcharts') with values (the merged values) coalesced over them, as
// Helm's chartutil.ToRenderValues does before rendering.
func RenderValues(ch *chart.Chart, values map[string]any) (map[string]any, error) {
	vals, err := chartutil.CoalesceValues(ch, values)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", ch.Name(), err)
	}
	return vals, nil
}

// componentRuntimeImages derives c's run-time images (RuntimeImages).
func componentRuntimeImages(c *Component) ([]RuntimeImage, error) {
	if len(c.Catalog.Images) == 0 {
		return nil, nil
	}
	vals, err := RenderValues(c.Chart.Chart, c.Values)
	if err != nil {
		return nil, err
	}
	return RuntimeImages(c.Catalog, vals, c.Rendered)
}

// derived is one image a Source found, and where.
type derived struct{ ref, where string }

// derive finds the images s names. Nothing found is an error unless s is
// optional; so is a value that is not a pinned image reference.
func derive(s *catalog.Source, values map[string]any, objs []renderedObject) ([]derived, error) {
	if w := s.WhenPath(); !w.IsZero() {
		m, err := w.Find(values)
		if err != nil || len(m) != 1 || m[0].Value != true {
			return nil, nil
		}
	}
	var found []derived
	var err error
	switch s.Kind() {
	case catalog.SourceValues:
		found, err = fromDocument(s.ValuesPath(), values, "values ")
	case catalog.SourceArg, catalog.SourceEnv:
		found, err = fromContainer(s, objs)
	case catalog.SourceConfigMap:
		found, err = fromConfigMap(s, objs)
	default:
		err = errors.New("no place set")
	}
	var absent absentError
	if s.Optional && errors.As(err, &absent) {
		return nil, nil // an absent or empty place is allowed; a malformed image is not
	}
	return found, err
}

// absentError is a place the values or the render do not have (or hold
// empty), saying what is there instead.
type absentError string

func (e absentError) Error() string { return string(e) }

func notThere(format string, args ...any) error {
	return absentError(fmt.Sprintf(format, args...))
}

// fromDocument reads the image references p reaches in doc (the values, or
// a ConfigMap value parsed), named where+path.
func fromDocument(p catalog.Path, doc any, where string) ([]derived, error) {
	matches, err := p.Find(doc)
	if err != nil {
		return nil, notThere("%v", err)
	}
	var out []derived
	var errs []error
	for _, m := range matches {
		ref, err := imageFromValue(m.Value)
		switch {
		case errors.Is(err, errNoImage):
			// passed over: an item without this image
		case err != nil:
			errs = append(errs, fmt.Errorf("%s%s: %w", where, m.Path, err))
		default:
			out = append(out, derived{ref: ref, where: where + m.Path})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, notThere("%s%s is empty", where, p)
	}
	return out, nil
}
