// Package rootfs owns the normalised root filesystem: a Tree gathers entries
// from layers (base OS tarballs, host directories, single files), later
// layers overriding earlier ones by path, and writes them as ONE reproducible
// tar stream, the intermediate form every OS image output is made from.
//
// Only headers are kept in memory. File content stays on disk: in the input
// tarball itself when it is a seekable file, in a spool file under the
// Tree's temp directory for streamed tarballs, or in the host file for
// AddDir and AddFileFrom. Call Close to remove spool files.
//
// The written stream is normalised:
//   - entries sorted by path, component by component, so parents come
//     before their children; the root is written first as "./";
//   - missing parent directories are synthesised (root-owned, 0755);
//   - every mtime later than WriteOptions.ModTime (or unset) becomes
//     ModTime, older ones are kept: the result depends only on the inputs
//     and ModTime, never on the build clock;
//   - uid/gid are kept numeric, uname/gname, atime and ctime cleared;
//   - extended attributes in the security., trusted. and user. namespaces
//     (SCHILY.xattr.* PAX records, e.g. security.capability) are kept;
//     system.* (POSIX ACLs, which squashfs cannot store) and all other PAX
//     records are dropped;
//   - hard links stay valid: the first path of a link group in output
//     order carries the content, the others link to it.
//
// A Tree is also an io/fs.FS over its current contents, resolving symbolic
// links inside the tree (absolute targets relative to the tree root), so
// callers can read boot/vmlinuz-* or lib/modules/<ver>/modules.dep from a
// merged-usr base where lib -> usr/lib.
//
// A Tree is not safe for concurrent mutation.
package rootfs

import (
	"archive/tar"
	"fmt"
	"os"
	"path"
	"strings"
)

// Options configures a Tree.
type Options struct {
	// TempDir holds spool files; os.TempDir() when empty.
	TempDir string
}

// Tree is a set of filesystem entries keyed by clean relative path.
type Tree struct {
	opts    Options
	entries map[string]*entry
	files   []*os.File // spool files and duplicated input tarballs
	spools  []string   // spool files to remove on Close
	index   *dirIndex  // directory listing for io/fs, rebuilt after changes
}

// entry is one path in the tree. hdr.Name is not authoritative: the key in
// Tree.entries is.
type entry struct {
	hdr    tar.Header
	origin string
	blob   *blob // regular files only; shared by hard-linked paths
}

// blob locates file content. Exactly one of data, file or hostPath is used.
type blob struct {
	data     []byte
	file     *os.File // spool file or input tarball, read with ReadAt
	off      int64
	size     int64
	hostPath string
}

// New returns an empty Tree.
func New(opts Options) *Tree {
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	return &Tree{opts: opts, entries: map[string]*entry{}}
}

// Close releases the files the Tree holds and removes its spool files. The
// Tree must not be used afterwards.
func (t *Tree) Close() error {
	var first error
	for _, f := range t.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, name := range t.spools {
		if err := os.Remove(name); err != nil && first == nil {
			first = err
		}
	}
	t.files, t.spools = nil, nil
	t.entries = nil
	t.index = nil
	return first
}

// Len is the number of entries in the tree, the root excluded.
func (t *Tree) Len() int {
	n := len(t.entries)
	if _, ok := t.entries["."]; ok {
		n--
	}
	return n
}

// Origin reports which layer added name (as given to the Add method).
func (t *Tree) Origin(name string) (string, bool) {
	e, ok := t.entries[cleanName(name)]
	if !ok {
		return "", false
	}
	return e.origin, true
}

// cleanName turns "./usr/lib/", "/usr/lib" and "usr//lib" into "usr/lib";
// the root is ".".
func cleanName(name string) string {
	name = strings.TrimLeft(name, "/")
	return path.Clean(name)
}

// put stores e at name, applying layer semantics: a non-directory replacing
// a directory removes the directory's contents, and a path below an existing
// non-directory is an error.
func (t *Tree) put(name string, e *entry) error {
	if name == "." && e.hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("add %s: the root must be a directory", e.origin)
	}
	for p := path.Dir(name); p != "." && name != "."; p = path.Dir(p) {
		if pe, ok := t.entries[p]; ok && pe.hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("add %s from %s: parent %s is not a directory", name, e.origin, p)
		}
	}
	if old, ok := t.entries[name]; ok && old.hdr.Typeflag == tar.TypeDir && e.hdr.Typeflag != tar.TypeDir {
		t.removeBelow(name)
	}
	t.entries[name] = e
	t.index = nil
	return nil
}

// removeBelow deletes every entry strictly below dir.
func (t *Tree) removeBelow(dir string) {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for k := range t.entries {
		if k != "." && strings.HasPrefix(k, prefix) && k != dir {
			delete(t.entries, k)
		}
	}
	t.index = nil
}

// Remove deletes entries. A pattern holding glob characters (*?[) is matched
// with path.Match against every path; otherwise it names one path. Either
// way, a matched directory is removed with everything below it. It returns
// how many entries were removed.
func (t *Tree) Remove(pattern string) (int, error) {
	before := len(t.entries)
	if !strings.ContainsAny(pattern, "*?[") {
		name := cleanName(pattern)
		if name == "." {
			return 0, fmt.Errorf("remove %q: refusing to remove the root", pattern)
		}
		delete(t.entries, name)
		t.removeBelow(name)
		return before - len(t.entries), nil
	}
	pat := strings.TrimLeft(pattern, "/")
	if _, err := path.Match(pat, ""); err != nil {
		return 0, fmt.Errorf("remove %q: %w", pattern, err)
	}
	var matched []string
	for k := range t.entries {
		if k == "." {
			continue
		}
		if ok, _ := path.Match(pat, k); ok {
			matched = append(matched, k)
		}
	}
	for _, k := range matched {
		delete(t.entries, k)
		t.removeBelow(k)
	}
	return before - len(t.entries), nil
}
