// Package newdir creates a directory with its missing parents and can take
// back what it created: a build that fails leaves no new empty directory
// (an output or cache directory named on the command line) behind, while
// one that had something put in it stays, with everything above it.
//
//	made, err := newdir.MkdirAll("out/site", 0o755)
//	...
//	if failed {
//		err = made.RemoveEmpty()
//	}
package newdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// Created lists the directories one MkdirAll created, outermost first.
type Created []string

// MkdirAll is os.MkdirAll that also returns the directories it created.
// A directory another process creates between the two is counted as
// created here; RemoveEmpty still removes it only while it is empty.
func MkdirAll(path string, perm fs.FileMode) (Created, error) {
	var missing Created
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(path, perm); err != nil {
		return nil, err
	}
	slices.Reverse(missing)
	return missing, nil
}

// RemoveEmpty removes the directories c lists, innermost first, while
// they are empty: it stops at the first that holds anything. A directory
// already gone is skipped.
func (c Created) RemoveEmpty() error {
	for _, dir := range slices.Backward(c) {
		err := os.Remove(dir)
		switch {
		case errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			return nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	return nil
}
