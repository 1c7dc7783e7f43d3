package manifests

import (
	"errors"
	"fmt"
)

// MaxErrors is how many problems Read lists; one more error says how many
// it left out. A hostile file may hold a problem on every line.
const MaxErrors = 50

// Error is one problem with a site manifest, at a line of its file when it
// has one.
type Error struct {
	// File is the path as Read was given it, or joined below a directory
	// entry.
	File string
	// Line is the 1-based line of the problem, 0 for the file as a whole.
	Line int
	// Msg says what is wrong and what to do.
	Msg string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// problems gathers the first MaxErrors problems and counts the rest.
type problems struct {
	errs []error
	more int
}

func (p *problems) add(file string, line int, format string, args ...any) {
	if len(p.errs) >= MaxErrors {
		p.more++
		return
	}
	p.errs = append(p.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err joins the problems, nil when there are none.
func (p *problems) err() error {
	errs := p.errs
	if p.more > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("and %d more problems with the site's manifests", p.more))
	}
	return errors.Join(errs...)
}
