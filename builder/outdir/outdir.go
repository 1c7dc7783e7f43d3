// Package outdir makes a build's outputs appear all at once or not at all.
//
// A build writes every artifact into a staging directory inside the output
// directory (".staging-<random>"). Commit renames each staged file to its
// final name (rename within one filesystem is atomic; a directory artifact
// is swapped with the previous one) and removes the staging directory. An interrupted build therefore leaves no file under a final
// name; its stale staging directory is removed by the next build. So two
// builds must not write into the same output directory at the same time.
// Abort also removes the output directory (and parents) Begin created, if
// nothing else is in it: a failed build leaves no new directory behind.
package outdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/builder/newdir"
)

const stagingPrefix = ".staging-"

// Dir is one build's staging area in an output directory.
type Dir struct {
	final   string
	staging string
	// created are the directories Begin made for final.
	created newdir.Created
}

// Begin creates the output directory if needed, removes staging directories
// left by interrupted builds, and returns a fresh staging area.
func Begin(final string) (*Dir, error) {
	created, err := newdir.MkdirAll(final, 0o755)
	if err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	stale, err := filepath.Glob(filepath.Join(final, stagingPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("find stale staging directories: %w", err)
	}
	for _, s := range stale {
		if err := os.RemoveAll(s); err != nil {
			return nil, fmt.Errorf("remove stale staging directory: %w", err)
		}
	}
	staging, err := os.MkdirTemp(final, stagingPrefix)
	if err != nil {
		return nil, fmt.Errorf("create staging directory: %w", err)
	}
	return &Dir{final: final, staging: staging, created: created}, nil
}

// Path is where to write the artifact that will be called name.
func (d *Dir) Path(name string) string { return filepath.Join(d.staging, name) }

// Scratch returns a directory for intermediate files that are not
// artifacts; it is removed with the staging area and never committed.
func (d *Dir) Scratch() (string, error) {
	p := filepath.Join(d.staging, ".scratch")
	if err := os.MkdirAll(p, 0o700); err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	return p, nil
}

// Final is the path name will have after Commit.
func (d *Dir) Final(name string) string { return filepath.Join(d.final, name) }

// Commit moves every staged file to its final name. Files are renamed in
// sorted order, with names listed in last (e.g. the build report) renamed
// after all others, so a report never describes files that are not there.
func (d *Dir) Commit(last ...string) error {
	entries, err := os.ReadDir(d.staging)
	if err != nil {
		return fmt.Errorf("list staged artifacts: %w", err)
	}
	isLast := map[string]bool{}
	for _, l := range last {
		isLast[l] = true
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // scratch space, removed with the staging area
		}
		if !isLast[e.Name()] {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, l := range last {
		if _, err := os.Lstat(d.Path(l)); err == nil {
			names = append(names, l)
		}
	}
	for _, n := range names {
		if err := replace(d.Path(n), d.Final(n)); err != nil {
			return fmt.Errorf("move %s into place: %w", n, err)
		}
	}
	return d.removeStaging()
}

// replace renames staged to final. A directory cannot be renamed over a
// non-empty one, so the two are swapped instead (Linux's atomic
// RENAME_EXCHANGE): the previous build's directory lands in the staging
// area and is removed with it, and final is never missing.
func replace(staged, final string) error {
	err := os.Rename(staged, final)
	if err == nil || !(errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST)) {
		return err
	}
	if xerr := unix.Renameat2(unix.AT_FDCWD, staged, unix.AT_FDCWD, final, unix.RENAME_EXCHANGE); xerr != nil {
		return fmt.Errorf("%w; swapping them: %w", err, xerr)
	}
	return nil
}

// Abort removes the staging area and everything in it, then the output
// directory if Begin created it and it is empty.
func (d *Dir) Abort() error {
	if err := d.removeStaging(); err != nil {
		return err
	}
	if err := d.created.RemoveEmpty(); err != nil {
		return fmt.Errorf("remove the new output directory: %w", err)
	}
	return nil
}

// removeStaging removes the staging area and everything in it.
func (d *Dir) removeStaging() error {
	if d.staging == "" || !strings.Contains(filepath.Base(d.staging), stagingPrefix) {
		return errors.New("outdir: not a staging directory")
	}
	if err := os.RemoveAll(d.staging); err != nil {
		return fmt.Errorf("remove staging directory: %w", err)
	}
	return nil
}
