package platform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/charts"
)

// passedImage is an image a rendered workload hands to what it starts: a
// controller's flag or environment variable naming an image.
type passedImage struct {
	Ref string
	// Container is where ("Deployment ns/x container c"), Place what
	// ("arg --executor-image", "env EXECUTOR_IMAGE").
	Container, Place string
	// Source is the catalog images rule that would derive it.
	Source catalog.Source
}

// passedImages finds, in every container of r's workloads (hooks
// included), the values of flags whose name contains "image"
// ("--executor-image=V", "--executor-image V") and of environment
// variables whose name contains "IMAGE", that parse as pinned image
// references (catalog.CheckImageRef): images a controller will start that
// no pod spec names.
func passedImages(r *charts.Rendered, namespace string) ([]passedImage, error) {
	objs, err := renderedObjects(r, namespace)
	if err != nil {
		return nil, err
	}
	var out []passedImage
	for i := range objs {
		for _, c := range objs[i].containers() {
			add := func(ref, place string, src catalog.Source) {
				if catalog.CheckImageRef(ref) != nil {
					return
				}
				src.Workload, src.Container = objs[i].Kind+"/"+objs[i].Name, c.Name
				out = append(out, passedImage{Ref: ref, Container: c.String(), Place: place, Source: src})
			}
			for j, a := range c.Argv {
				flag, v, hasValue := strings.Cut(a, "=")
				if !strings.HasPrefix(flag, "-") || !strings.Contains(strings.ToLower(flag), "image") {
					continue
				}
				if !hasValue {
					if j+1 == len(c.Argv) || strings.HasPrefix(c.Argv[j+1], "-") {
						continue
					}
					v = c.Argv[j+1]
				}
				add(v, "arg "+flag, catalog.Source{Arg: flag})
			}
			for _, e := range c.Env {
				if !e.FromRef && strings.Contains(strings.ToUpper(e.Name), "IMAGE") {
					add(e.Value, "env "+e.Name, catalog.Source{Env: e.Name})
				}
			}
		}
	}
	return out, nil
}

// checkPassedImages fails for every image a component's rendered workloads
// pass at run time (passedImages) that is not among the images baked for
// that component (needs whose Components name it: its chart's, its
// derived run-time images, the site's images for it), naming the image,
// where it is passed, and how to have it baked.
func checkPassedImages(comps []*Component, needs []Need) error {
	baked := map[string]map[string]bool{}
	for _, n := range needs {
		for _, c := range n.Components {
			if baked[c] == nil {
				baked[c] = map[string]bool{}
			}
			baked[c][canonicalRef(n.Ref)] = true
		}
	}
	var errs []error
	for _, c := range comps {
		what := c.what()
		passed, err := passedImages(c.Rendered, c.Catalog.Namespace)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		for _, p := range passed {
			if baked[c.Catalog.Name][canonicalRef(p.Ref)] {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %s %s passes image %s to what it starts at run time, and the build does not bake it: %s",
				what, p.Container, p.Place, p.Ref, howToBake(c, p)))
		}
	}
	return errors.Join(errs...)
}

// howToBake says how to have p baked for c.
func howToBake(c *Component, p passedImage) string {
	if c.Origin == OriginSite {
		return fmt.Sprintf("list it in the chart's images (%s)", c.Catalog.File)
	}
	rule := fmt.Sprintf("{workload: %s, container: %s, ", p.Source.Workload, p.Source.Container)
	if p.Source.Arg != "" {
		rule += "arg: " + p.Source.Arg + "}"
	} else {
		rule += "env: " + p.Source.Env + "}"
	}
	return fmt.Sprintf("add an images entry with from: %s to %s, or list it in the site's platform.%s.images", rule, c.Catalog.File, c.Catalog.Name)
}

// canonicalRef is ref fully qualified (index.docker.io/library/...), so
// two spellings of one image compare equal.
func canonicalRef(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Name()
}
