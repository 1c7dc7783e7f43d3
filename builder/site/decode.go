package site

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Decode parses a site config strictly: unknown keys, wrong types and YAML
// syntax errors are all reported, each as an *Error naming file, line and
// field, joined in file order. file names the config in messages; relative
// paths in the config resolve against its directory.
//
// Decode neither sets defaults nor validates values: Load does all three.
// On a decoding error the returned Site holds whatever did decode (nil only
// when the YAML itself could not be parsed), so a caller can still validate
// the rest and report everything at once, as Load does.
func Decode(file string, data []byte) (*Site, error) {
	s, rep := decode(file, data)
	return s, rep.err()
}

// decode is Decode returning the findings rather than a joined error.
func decode(file string, data []byte) (*Site, *report) {
	rep := &report{file: file}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		rep.errorf(0, "", "resolve the config's directory: %v", err)
		return nil, rep
	}
	root, ok := parse(data, rep)
	if !ok {
		return nil, rep
	}
	s := &Site{File: file, Dir: dir, src: &source{lines: map[string]int{"": root.Line}, failed: map[string]bool{}, failedUnder: map[string]bool{}}}
	d := &decoder{src: s.src, rep: rep, budget: aliasBudget(root)}
	d.value(root, "", reflectValue(s))
	if f := d.overBudget; f != nil {
		// What did decode is a sliver of what the aliases stand for:
		// refuse the document, with this one error.
		rep = &report{file: file}
		rep.errorf(f.line, f.path, "%s", f.msg)
		return nil, rep
	}
	s.resolvePaths()
	return s, rep
}

// parse reads exactly one YAML document whose top level is not empty.
func parse(data []byte, rep *report) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			rep.errorf(0, "", "the file is empty")
		} else {
			yamlError(rep, data, err)
		}
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		yamlError(rep, data, err)
		return nil, false
	default:
		rep.errorf(next.Line, "", "a second YAML document: a site config is one document")
		return nil, false
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		rep.errorf(doc.Line, "", "the document is empty")
		return nil, false
	}
	return doc.Content[0], true
}

// source is what decoding learnt about where each field is in the file.
type source struct {
	// lines maps a field path to the line of its key (or list item); "" is
	// the document.
	lines map[string]int
	// failed holds the paths whose value did not decode; validation stays
	// quiet about them and everything under them.
	failed map[string]bool
	// failedUnder holds the ancestors of the paths in failed.
	failedUnder map[string]bool
}

// markFailed records that the value at path did not decode.
func (s *source) markFailed(path string) {
	s.failed[path] = true
	for p := path; p != ""; {
		p = parent(p)
		if s.failedUnder[p] {
			return
		}
		s.failedUnder[p] = true
	}
}

// line is the line of path, or of its nearest ancestor the file has.
func (s *source) line(path string) int {
	if s == nil {
		return 0
	}
	for {
		if l, ok := s.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parent(path)
	}
}

// hasFailed reports whether path or one of its ancestors did not decode.
func (s *source) hasFailed(path string) bool {
	if s == nil {
		return false
	}
	for {
		if s.failed[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parent(path)
	}
}

// touchesFailed reports whether path, one of its ancestors or one of its
// descendants did not decode: a warning about path could then be wrong.
func (s *source) touchesFailed(path string) bool {
	return s != nil && (s.hasFailed(path) || s.failedUnder[path])
}

// parent strips the last element of a field path: "a.b[1].c" -> "a.b[1]" -> "a.b" -> "a" -> "".
func parent(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case '.':
			return path[:i]
		case '[':
			return path[:i]
		}
	}
	return ""
}

// join builds a child path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
