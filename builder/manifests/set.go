package manifests

import (
	"slices"
	"sort"

	"github.com/ml-appliance/appliance/builder/charts"
)

// Set is the site's manifests as Read found them.
type Set struct {
	files    []File
	images   map[string]map[string]bool
	warnings []string
	skipped  []Skipped
}

// File is one site manifest file and where the build places it.
type File struct {
	// Name is the file name to place in payload.PlatformManifestsDir:
	// Addon + ".yaml", whatever the source's extension (K3s parses the
	// content alike).
	Name string
	// Addon is the name K3s tracks the file's objects by: the source's
	// file name up to its first dot.
	Addon string
	// Source is the path it was read from.
	Source string
	// Where names it in image sources: its file name, or DIR/sub/file for
	// a file found below the directory entry DIR.
	Where string
	// Data is the file's content, exactly as read.
	Data []byte
	// Objects are the objects K3s will apply from it, in file order.
	Objects []Object
}

// Skipped is a file or directory found in a directory entry that the
// build leaves out, as K3s would have.
type Skipped struct {
	Path, Reason string
}

// Files returns the files to place, sorted by Name.
func (s *Set) Files() []File { return slices.Clone(s.files) }

// Names returns the Addon names the site's files take, sorted: the build
// places nothing else at these names (ADDON.yaml) among the manifests.
func (s *Set) Names() []string {
	names := make([]string, len(s.files))
	for i, f := range s.files {
		names[i] = f.Addon
	}
	slices.Sort(names)
	return names
}

// Images returns every image the manifests reference, sorted, each with
// every place that names it ("site manifest monitor.yaml: CronJob
// models/retrain container train").
func (s *Set) Images() []charts.ImageUse {
	out := make([]charts.ImageUse, 0, len(s.images))
	for image, froms := range s.images {
		u := charts.ImageUse{Image: image}
		for f := range froms {
			u.From = append(u.From, f)
		}
		slices.Sort(u.From)
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Image < out[j].Image })
	return out
}

// Warnings are things that do not stop the build but may surprise, each
// "FILE:LINE: what".
func (s *Set) Warnings() []string { return slices.Clone(s.warnings) }

// Skipped lists what directory entries held that the build leaves out.
func (s *Set) Skipped() []Skipped { return slices.Clone(s.skipped) }

func (s *Set) addImage(image, from string) {
	if s.images[image] == nil {
		s.images[image] = map[string]bool{}
	}
	s.images[image][from] = true
}
