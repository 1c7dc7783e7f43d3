// Package site owns the operator's config file, site.yaml: its schema, strict
// decoding, defaults and validation. Everything else in the builder reads a
// *Site that Load has checked.
//
// Decoding walks yaml.Node trees (gopkg.in/yaml.v3), so every problem names
// the file, the line and the field, in the form
//
//	site.yaml:12: cluster.nodes[1].mac: duplicate MAC 52:54:00:00:00:01 (also cluster.nodes[0])
//
// Unknown keys, wrong types and bad values are all errors; all of them are
// collected and returned together (errors.Join), in file order, the first
// MaxErrors listed and the rest counted. Each error is an *Error, so a CLI
// can tell a bad config from an unreadable one. Every file the config is
// or names is read within a bound (readfile.go), and aliases may not blow
// the document up (walk.go).
//
// A section of the file (os, cluster, outputs, ...) is one Go type in its own
// file with its defaults and validation; adding a section means adding that
// file, a field in Site, and an entry in Site.sections.
//
// Typical use:
//
//	s, warnings, err := site.Load("site.yaml")
package site

import (
	"errors"
	"fmt"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// APIVersion and Kind identify a site config.
const (
	APIVersion = "appliance/v1alpha1"
	Kind       = "Site"
)

// Site is a decoded site config. Paths in it are resolved against the config
// file's directory.
type Site struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	// Seed derives partition GUIDs, filesystem UUIDs and other IDs; default
	// Metadata.Name.
	Seed    string  `yaml:"seed"`
	OS      OS      `yaml:"os"`
	Cluster Cluster `yaml:"cluster"`
	Outputs Outputs `yaml:"outputs"`
	K3s     K3s     `yaml:"k3s"`
	// Platform enables components of the ML platform catalog.
	Platform Platform `yaml:"platform"`
	// Charts, Manifests and Images are the site's own workloads, baked
	// and brought up like the platform's (charts.go, workloads.go).
	Charts    Charts    `yaml:"charts"`
	Manifests Manifests `yaml:"manifests"`
	Images    Images    `yaml:"images"`
	// Mirrors redirect downloads to internal mirrors.
	Mirrors Mirrors `yaml:"mirrors"`

	// File is the config file as the caller named it (used in messages).
	File string `yaml:"-"`
	// Dir is the absolute directory relative paths resolve against.
	Dir string `yaml:"-"`

	// src knows where each field is in File; nil for a Site built in code.
	src *source
}

// section is one part of the config. Each method is optional: a section
// implements those it needs.
type (
	defaulter    interface{ setDefaults(s *Site) }
	pathResolver interface{ resolvePaths(dir string) }
	validatable  interface{ validate(v *validator) }
)

// sections lists the sections in file order.
func (s *Site) sections() []any {
	return []any{&s.Metadata, &s.OS, &s.Cluster, &s.Outputs, &s.K3s, &s.Platform, &s.Charts, &s.Manifests, &s.Images, &s.Mirrors}
}

// Load reads a site config, decodes it strictly, sets defaults and validates
// it. It returns the warnings even when there are errors. A config error is
// (or joins) *Error values, and so is a path that is not a config file at
// all (a directory, a FIFO, a file over MaxConfigBytes); failing to read
// the file (missing, unreadable) is a plain error.
func Load(path string) (*Site, []string, error) {
	data, err := readFile(path, MaxConfigBytes)
	switch {
	case errors.Is(err, smallfile.ErrNotRegular) || errors.Is(err, smallfile.ErrTooLarge):
		return nil, nil, &Error{File: path, Msg: err.Error()}
	case err != nil:
		return nil, nil, fmt.Errorf("read site config %s: %w", path, err)
	}
	return load(path, data)
}

// load is Load on data already read from file.
func load(file string, data []byte) (*Site, []string, error) {
	s, rep := decode(file, data)
	if s == nil {
		return nil, nil, rep.err()
	}
	s.SetDefaults()
	rep.merge(s.check())
	if err := rep.err(); err != nil {
		return nil, rep.warningStrings(), err
	}
	return s, rep.warningStrings(), nil
}

// SetDefaults fills every field the operator left out with its documented
// default (docs/site-config.md) and puts values in canonical form (MACs in
// lowercase colon form, sha256 digests in lowercase).
func (s *Site) SetDefaults() {
	if s.Seed == "" {
		s.Seed = s.Metadata.Name
	}
	for _, sec := range s.sections() {
		if d, ok := sec.(defaulter); ok {
			d.setDefaults(s)
		}
	}
}

// resolvePaths makes relative paths absolute against s.Dir.
func (s *Site) resolvePaths() {
	for _, sec := range s.sections() {
		if r, ok := sec.(pathResolver); ok {
			r.resolvePaths(s.Dir)
		}
	}
}

// Validate checks a Site whose defaults are set. Warnings are things that
// will build but probably are not what the operator wants.
func (s *Site) Validate() (warnings []string, err error) {
	rep := s.check()
	return rep.warningStrings(), rep.err()
}

func (s *Site) check() *report {
	v := &validator{src: s.src, rep: &report{file: s.File}}
	if s.APIVersion == "" {
		v.errorf("apiVersion", "required (%s)", APIVersion)
	} else if s.APIVersion != APIVersion {
		v.errorf("apiVersion", "unsupported %q (want %s)", s.APIVersion, APIVersion)
	}
	if s.Kind == "" {
		v.errorf("kind", "required (%s)", Kind)
	} else if s.Kind != Kind {
		v.errorf("kind", "unsupported %q (want %s)", s.Kind, Kind)
	}
	for _, sec := range s.sections() {
		if c, ok := sec.(validatable); ok {
			c.validate(v)
		}
	}
	checkRawSize(v, s.Outputs.Raw)
	if p := s.Outputs.PXE; p != nil && p.ServeFromInitServer && !s.K3s.Enabled() {
		v.errorf("outputs.pxe.serveFromInitServer", "the initial server is a K3s role: add a k3s section")
	}
	if len(s.Platform.Enabled()) > 0 && !s.K3s.Enabled() {
		v.errorf("platform", "the platform runs on K3s: add a k3s section")
	}
	for _, sec := range []struct {
		field string
		n     int
	}{{"charts", len(s.Charts)}, {"manifests", len(s.Manifests)}, {"images", len(s.Images)}} {
		if sec.n > 0 && !s.K3s.Enabled() {
			v.errorf(sec.field, "the site's workloads run on K3s: add a k3s section")
		}
	}
	s.validateReleaseNames(v)
	s.validateChartMirrors(v)
	return v.rep
}

// validator reports problems at the line where the decoder found each field.
type validator struct {
	src *source
	rep *report
}

// errorf reports a problem with the field at path, unless that field (or
// one above it) already failed to decode.
func (v *validator) errorf(path, format string, args ...any) {
	if !v.src.hasFailed(path) {
		v.rep.errorf(v.src.line(path), path, format, args...)
	}
}

// warnf reports a warning about the field at path, unless part of it did
// not decode (the warning could then be wrong).
func (v *validator) warnf(path, format string, args ...any) {
	if v.src != nil && v.src.touchesFailed(path) {
		return
	}
	v.rep.warnf(v.src.line(path), path, format, args...)
}

// Where names the place of a field in the config for messages made outside
// this package: "site.yaml:12" (just the file when the line is unknown).
func (s *Site) Where(path string) string {
	if l := s.src.line(path); l > 0 {
		return fmt.Sprintf("%s:%d", s.File, l)
	}
	return s.File
}
