package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// needSet gathers the images the platform needs, each once, with
// everything that needs it.
type needSet map[string]*Need

// add records that component needs ref, for the reasons from.
func (ns needSet) add(ref, component string, from ...string) {
	n, ok := ns[ref]
	if !ok {
		n = &Need{Ref: ref}
		ns[ref] = n
	}
	n.From = append(n.From, from...)
	n.Components = append(n.Components, component)
}

// list returns the needs sorted by reference, each one's From and
// Components sorted and unique. It fails naming every reference that
// cannot be pinned and what needs it.
func (ns needSet) list() ([]Need, error) {
	var errs []error
	out := make([]Need, 0, len(ns))
	for _, n := range ns {
		slices.Sort(n.From)
		slices.Sort(n.Components)
		n.From, n.Components = slices.Compact(n.From), slices.Compact(n.Components)
		if err := catalog.CheckImageRef(n.Ref); err != nil {
			errs = append(errs, fmt.Errorf("image %v (needed by %s)", err, strings.Join(n.From, "; ")))
			continue
		}
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b Need) int { return strings.Compare(a.Ref, b.Ref) })
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return out, errors.Join(errs...)
}
