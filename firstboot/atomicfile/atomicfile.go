// Package atomicfile replaces files so that a reader, and the file system
// after a power cut, sees either a file's old content or all of its new
// content, never a part.
//
// Write has the new content written into a temporary file in the same
// directory, sets its mode, fsyncs it, renames it over the file and fsyncs
// the directory:
//
//	err := atomicfile.WriteFile("/etc/hostname", []byte("node-1\n"), 0o644,
//		atomicfile.MkdirAll(0o755))
//
// The temporary file is named TempPrefix + the file's name + ".tmp-" and a
// random suffix. It is a dot file, which K3s's deploy controller skips in its
// manifests directory, and IsTemp tells a leftover of an interrupted write
// from other files. Write removes the leftovers of earlier writes to the
// same file first, so a write a kill or a power cut interrupted is cleaned
// up by the next write of that file: the agent's steps are idempotent, so
// they write the same files again when they run again.
package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TempPrefix starts the name of every temporary file Write makes.
const TempPrefix = ".firstboot-"

// tempInfix follows the file's name in a temporary file's name.
const tempInfix = ".tmp-"

// IsTemp says whether name (a base name) is one of Write's temporary files.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, TempPrefix) && strings.Contains(name, tempInfix)
}

// An Option changes how Write writes.
type Option func(*options)

type options struct {
	mkdir       bool
	dirPerm     fs.FileMode
	beforeChmod func(*os.File) error
}

// MkdirAll has Write create missing parent directories with mode perm.
// Without it, the parent directory must exist.
func MkdirAll(perm fs.FileMode) Option {
	return func(o *options) { o.mkdir, o.dirPerm = true, perm }
}

// BeforeChmod has Write call hook on the temporary file once its content is
// written and before its mode is set: the place to chown it, as a chown
// clears the setuid and setgid bits. Write returns hook's error as it is.
func BeforeChmod(hook func(*os.File) error) Option {
	return func(o *options) { o.beforeChmod = hook }
}

// WriteFile replaces path with data, as Write does.
func WriteFile(path string, data []byte, perm fs.FileMode, opts ...Option) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, opts...)
}

// Write replaces path with what fill writes, with mode perm. Path holds its
// old content or all of the new, even across a power cut; when fill or any
// step fails, path is left as it was and the temporary file is removed.
func Write(path string, perm fs.FileMode, fill func(io.Writer) error, opts ...Option) (err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Dir(path)
	if o.mkdir {
		if err := os.MkdirAll(dir, o.dirPerm); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	prefix := TempPrefix + filepath.Base(path) + tempInfix
	if err := removeLeftovers(dir, prefix); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if o.beforeChmod != nil {
		if err := o.beforeChmod(tmp); err != nil {
			return err
		}
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return SyncDir(dir)
}

// removeLeftovers removes the temporary files of interrupted writes whose
// names start with prefix; a directory that does not exist has none.
func removeLeftovers(dir, prefix string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

// SyncDir fsyncs a directory so that a rename or removal in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
