// Package doctor checks that the host has the programs a build runs, and
// says how to install what is missing. `builder doctor` prints its findings;
// `builder build` runs the same check before doing any work.
package doctor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Tool is a host program (or data file) the build needs.
type Tool struct {
	// Command is the executable's name, looked up in PATH; an absolute path
	// names a data file that must exist (e.g. /usr/lib/ipxe/ipxe.efi).
	Command string
	// Package is the Debian package that provides it.
	Package string
	// Purpose says what the build uses it for.
	Purpose string
}

// Result is the outcome of looking for one tool.
type Result struct {
	Tool
	// Path is where the tool was found; empty when missing.
	Path string
}

// Found reports whether the tool is installed.
func (r Result) Found() bool { return r.Path != "" }

// MissingError lists the tools that are not installed.
type MissingError struct {
	Missing []Result
}

func (e *MissingError) Error() string {
	var names, pkgs []string
	seen := map[string]bool{}
	for _, m := range e.Missing {
		names = append(names, fmt.Sprintf("%s (%s)", m.Command, m.Purpose))
		if !seen[m.Package] {
			seen[m.Package] = true
			pkgs = append(pkgs, m.Package)
		}
	}
	sort.Strings(pkgs)
	return fmt.Sprintf("missing host tools: %s; install with: apt-get install %s",
		strings.Join(names, ", "), strings.Join(pkgs, " "))
}

// LookPath finds an executable; exec.LookPath is the real one.
type LookPath func(file string) (string, error)

// Check looks for every tool. It returns all results, and a *MissingError
// when any tool is missing.
func Check(tools []Tool, look LookPath) ([]Result, error) {
	if look == nil {
		look = exec.LookPath
	}
	results := make([]Result, 0, len(tools))
	var missing []Result
	for _, t := range tools {
		r := Result{Tool: t}
		if filepath.IsAbs(t.Command) {
			if info, err := os.Stat(t.Command); err == nil && info.Mode().IsRegular() {
				r.Path = t.Command
			} else {
				missing = append(missing, r)
			}
		} else if p, err := look(t.Command); err == nil {
			r.Path = p
		} else {
			missing = append(missing, r)
		}
		results = append(results, r)
	}
	if len(missing) > 0 {
		return results, &MissingError{Missing: missing}
	}
	return results, nil
}
