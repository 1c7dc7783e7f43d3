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

// MaxErrors is how many errors (and, apart, warnings) a report lists, the
// first in file order; the rest are counted in a last line "... and N more
// errors". A config of a million unknown keys gives 51 lines, not a
// million.
const MaxErrors = 50

// finding is an error or a warning at a position, before rendering.
type finding struct {
	line int
	path string
	msg  string
}

// findings keeps the MaxErrors first findings in file order and counts
// the others.
type findings struct {
	kept  []finding
	total int
}

// add keeps f; past twice the bound it sorts and drops all but the first
// MaxErrors, so memory stays bounded and the order of findings on one line
// stays the order they were found in.
func (fs *findings) add(f finding) {
	fs.total++
	fs.kept = append(fs.kept, f)
	if len(fs.kept) >= 2*MaxErrors {
		fs.kept = sorted(fs.kept)[:MaxErrors]
	}
}

// first returns the findings to list, in line order, and how many more
// there are.
func (fs *findings) first() ([]finding, int) {
	out := sorted(fs.kept)
	if len(out) > MaxErrors {
		out = out[:MaxErrors]
	}
	return out, fs.total - len(out)
}

// report collects findings and renders them in file order.
type report struct {
	file     string
	errs     findings
	warnings findings
}

func (r *report) errorf(line int, path, format string, args ...any) {
	r.errs.add(finding{line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

func (r *report) warnf(line int, path, format string, args ...any) {
	r.warnings.add(finding{line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

// merge adds o's findings to r's.
func (r *report) merge(o *report) {
	for _, f := range sorted(o.errs.kept) {
		r.errs.add(f)
	}
	r.errs.total += o.errs.total - len(o.errs.kept)
	for _, f := range sorted(o.warnings.kept) {
		r.warnings.add(f)
	}
	r.warnings.total += o.warnings.total - len(o.warnings.kept)
}

// err joins the errors in line order (a stable sort keeps the order of
// findings on the same line), or returns nil when there are none.
func (r *report) err() error {
	if r.errs.total == 0 {
		return nil
	}
	fs, more := r.errs.first()
	errs := make([]error, 0, len(fs)+1)
	for _, f := range fs {
		errs = append(errs, &Error{File: r.file, Line: f.line, Path: f.path, Msg: f.msg})
	}
	if more > 0 {
		errs = append(errs, &Error{File: r.file, Msg: fmt.Sprintf("... and %d more errors (only the first %d are listed)", more, MaxErrors)})
	}
	return errors.Join(errs...)
}

// warningStrings renders the warnings in line order; nil when there are none.
func (r *report) warningStrings() []string {
	if r.warnings.total == 0 {
		return nil
	}
	fs, more := r.warnings.first()
	var out []string
	for _, f := range fs {
		out = append(out, locate(r.file, f.line, f.path)+f.msg)
	}
	if more > 0 {
		out = append(out, locate(r.file, 0, "")+fmt.Sprintf("... and %d more warnings", more))
	}
	return out
}

func sorted(fs []finding) []finding {
	out := append([]finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}
