package site

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Error is one problem in a site config: where it is and what is wrong.
// Every error Decode, Validate and Load return for a bad config is an *Error
// (several are joined with errors.Join), so a caller tells config errors from
// I/O errors with errors.As:
//
//	var cerr *site.Error
//	if errors.As(err, &cerr) { /* the operator's config is wrong: exit 2 */ }
type Error struct {
	// File is the config file as the caller named it; empty for a Site built in code.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Path is the field, like "cluster.nodes[1].mac"; empty for the whole document.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error renders "FILE:LINE: field.path: what is wrong", leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	return locate(e.File, e.Line, e.Path) + e.Msg
}

// locate renders the "FILE:LINE: path: " prefix shared by errors and warnings.
func locate(file string, line int, path string) string {
	var s string
	switch {
	case file != "" && line > 0:
		s = file + ":" + strconv.Itoa(line) + ": "
	case file != "":
		s = file + ": "
	case line > 0:
		s = "line " + strconv.Itoa(line) + ": "
	}
	if path != "" {
		s += path + ": "
	}
	return s
}

// IsConfigError reports whether err is (or joins) a problem in the config
// itself, as opposed to a failure to read it.
func IsConfigError(err error) bool {
	var cerr *Error
	return errors.As(err, &cerr)
}

// finding is an error or a warning at a position, before rendering.
type finding struct {
	line int
	path string
	msg  string
}

// report collects findings and renders them in file order.
type report struct {
	file     string
	errs     []finding
	warnings []finding
}

func (r *report) errorf(line int, path, format string, args ...any) {
	r.errs = append(r.errs, finding{line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

func (r *report) warnf(line int, path, format string, args ...any) {
	r.warnings = append(r.warnings, finding{line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

// merge appends o's findings to r's.
func (r *report) merge(o *report) {
	r.errs = append(r.errs, o.errs...)
	r.warnings = append(r.warnings, o.warnings...)
}

// err joins the errors in line order (a stable sort keeps the order of
// findings on the same line), or returns nil when there are none.
func (r *report) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	fs := sorted(r.errs)
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = &Error{File: r.file, Line: f.line, Path: f.path, Msg: f.msg}
	}
	return errors.Join(errs...)
}

// warningStrings renders the warnings in line order; nil when there are none.
func (r *report) warningStrings() []string {
	if len(r.warnings) == 0 {
		return nil
	}
	var out []string
	for _, f := range sorted(r.warnings) {
		out = append(out, locate(r.file, f.line, f.path)+f.msg)
	}
	return out
}

func sorted(fs []finding) []finding {
	out := append([]finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}
