package site

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/manifests"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Manifests are files or directories of plain Kubernetes YAML, relative to
// the config file, that K3s's deploy controller applies on the servers
// (docs/site-config.md, "The site's own workloads"):
//
//	manifests: [manifests/monitor.yaml, manifests/team/]
type Manifests []string

// Images are further images to bake, by tag or digest, beyond those the
// platform, the site's charts and manifests name (a notebook image users
// pick, a pipeline step's image):
//
//	images: [registry.example/team/notebook:1.2]
type Images []string

func (m *Manifests) resolvePaths(dir string) {
	for i := range *m {
		(*m)[i] = resolve(dir, (*m)[i])
	}
}

func (m *Manifests) validate(v *validator) {
	for i, p := range *m {
		if p == "" {
			v.errorf(index("manifests", i), "empty path")
		} else if IsURL(p) {
			v.errorf(index("manifests", i), "%q: a manifest is a local file or directory beside the config", p)
		}
	}
}

func (im *Images) validate(v *validator) {
	seen := map[string]int{}
	for i, ref := range *im {
		p := index("images", i)
		if first, ok := seen[ref]; ok {
			v.warnf(p, "%s is listed twice (also images[%d])", ref, first)
			continue
		}
		seen[ref] = i
		checkImage(v, p, ref)
	}
}

// HasWorkloads reports whether the site runs anything on K3s beyond K3s
// itself: platform components, charts, manifests or images of its own.
func (s *Site) HasWorkloads() bool {
	return len(s.Platform.Enabled()) > 0 || len(s.Charts) > 0 || len(s.Manifests) > 0 || len(s.Images) > 0
}

// validateReleaseNames checks that the site's charts name no catalog
// component (enabled or not: a HelmChart is named after its release, all
// in one namespace, and enabling the component later must not replace
// the site's chart) and none of K3s's own manifests (its HelmChart
// manifest lies beside them, named after it).
func (s *Site) validateReleaseNames(v *validator) {
	cat, err := catalog.Default()
	if err != nil {
		return // the platform section reports a broken catalog
	}
	for i, c := range s.Charts {
		p := index("charts", i) + ".name"
		for _, comp := range cat.Components() {
			if c.Name == comp.Name || c.Name == comp.ReleaseName() {
				v.errorf(p, "%q is the catalog component %s's name (its HelmChart is %s): name the site's chart otherwise", c.Name, comp.Name, comp.ReleaseName())
			}
		}
		if slices.Contains(payload.K3sAddonNames, c.Name) {
			v.errorf(p, "%q is the name of one of K3s's own manifests or of a component `k3s server --disable` removes: name the site's chart otherwise", c.Name)
		}
	}
}

// String renders a duration as time.Duration does.
func (d Duration) String() string { return fmt.Sprint(time.Duration(d)) }

// checkManifests reads the site's manifests as the build will (K3s's
// rules, bounded, no symlink followed: package manifests; the build logs
// its warnings) and checks that
// no file's K3s Addon name is a HelmChart manifest's: a catalog
// component's release or a chart of the site's, which lie in the same
// directory on the servers.
func (s *Site) checkManifests(v *validator) {
	if len(s.Manifests) == 0 {
		return
	}
	set, err := manifests.Read(s.Manifests)
	if err != nil {
		for _, e := range flatten(err) {
			v.errorf(s.manifestEntry(e), "%v", e)
		}
		return
	}
	releases := map[string]string{}
	if cat, err := catalog.Default(); err == nil {
		for _, c := range cat.Components() {
			releases[c.ReleaseName()] = "the HelmChart of catalog component " + c.Name
		}
	}
	for i, c := range s.Charts {
		releases[c.Name] = fmt.Sprintf("the HelmChart of the site's chart charts[%d]", i)
	}
	for _, f := range set.Files() {
		if what, ok := releases[f.Addon]; ok {
			v.errorf(s.manifestEntry(&manifests.Error{File: f.Source}), "%s: K3s names its objects %q after the file, as it names %s: rename the file", f.Source, f.Addon, what)
		}
	}
}

// manifestEntry is the field of the manifests entry a problem of package
// manifests is in (the file itself, or one below the directory it names),
// "manifests" when it is none.
func (s *Site) manifestEntry(err error) string {
	var me *manifests.Error
	if errors.As(err, &me) {
		for i, p := range s.Manifests {
			if me.File == p || strings.HasPrefix(me.File, strings.TrimSuffix(p, "/")+"/") {
				return index("manifests", i)
			}
		}
	}
	return "manifests"
}

// flatten lists the errors err joins (itself when it joins none).
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
