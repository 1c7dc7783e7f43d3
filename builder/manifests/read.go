package manifests

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ml-appliance/appliance/internal/smallfile"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The bounds of what Read reads. K3s itself reads a manifest whole with no
// bound (os.ReadFile); what bounds an object is the API server, which
// takes no request over 3 MiB (k8s.io/apiserver pkg/server/config.go
// MaxRequestBodyBytes), and etcd, which stores none over 1.5 MiB by
// default. The largest manifests in common use (an operator's bundle of
// CRDs) are a few MiB of such objects.
const (
	// MaxFileBytes bounds one manifest file: several times the largest
	// bundles.
	MaxFileBytes = 16 << 20
	// MaxDocumentBytes bounds one document (a part between --- lines),
	// what is parsed at once: YAML decoding takes up to ~150 times a dense
	// document's size (a 3 MiB flow list of one-letter items: ~500 MiB
	// resident, measured), as it does in K3s. A document the API server
	// cannot take anyway is refused unparsed.
	MaxDocumentBytes = 3 << 20
	// MaxTotalBytes bounds all the files: the build keeps them in memory
	// to place them.
	MaxTotalBytes = 64 << 20
	// MaxFiles bounds the number of manifest files: each is an Addon K3s
	// re-reads every 15 seconds.
	MaxFiles = 256
	// MaxDirEntries bounds the entries of all directory entries, read or
	// skipped: a directory entry is a directory of manifests, not a tree
	// around them.
	MaxDirEntries = 4096
	// MaxDepth bounds how deep below a directory entry Read goes.
	MaxDepth = 8
)

// reader reads the site's manifest entries into a Set.
type reader struct {
	set   *Set
	probs problems
	files int
	bytes int64
	dirs  int
	// full is set when a bound over all entries is reached: nothing more is
	// read.
	full bool
}

// Read reads the site's manifest entries, each a file or a directory (see
// the package doc), and checks every document. Its error joins every
// problem (at most MaxErrors), each an *Error naming the file and, where
// it has one, the line.
func Read(paths []string) (*Set, error) {
	r := &reader{set: &Set{images: map[string]map[string]bool{}}}
	for _, p := range paths {
		if r.full {
			break
		}
		r.entry(p)
	}
	r.checkNames()
	if err := r.probs.err(); err != nil {
		return nil, err
	}
	slices.SortFunc(r.set.files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return r.set, nil
}

// entry reads one entry of the site's manifests list.
func (r *reader) entry(p string) {
	if p == "" {
		r.probs.add(p, 0, "an empty path")
		return
	}
	path := filepath.Clean(p) // no trailing slash: O_NOFOLLOW would follow a link before one
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		r.probs.add(path, 0, "%s", osProblem(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		r.probs.add(path, 0, "a symbolic link: the build follows none; list the file or directory it points to")
	case fi.IsDir():
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			r.probs.add(path, 0, "open directory: %v", err)
			return
		}
		dir := os.NewFile(uintptr(fd), path)
		defer dir.Close()
		r.walk(dir, path, filepath.Base(path), 0)
	case fi.Mode().IsRegular():
		name := filepath.Base(path)
		if !hasK3sExtension(name) {
			r.probs.add(path, 0, "K3s applies only files named *.yaml, *.yml or *.json")
			return
		}
		dir, err := os.Open(filepath.Dir(path))
		if err != nil {
			r.probs.add(path, 0, "open its directory: %s", osProblem(err))
			return
		}
		defer dir.Close()
		r.file(dir, name, path, name)
	default:
		r.probs.add(path, 0, "%s, not a regular file or a directory", smallfile.Kind(fi.Mode()))
	}
}

// walk reads the directory dir, at path, whose files are named where/NAME
// in image sources, and its subdirectories up to MaxDepth.
func (r *reader) walk(dir *os.File, path, where string, depth int) {
	entries := r.readDir(dir, path)
	skips := map[string]bool{}
	for _, e := range entries {
		if base, ok := strings.CutSuffix(e.Name(), ".skip"); ok {
			skips[base] = true
		}
	}
	for _, e := range entries {
		if r.full {
			return
		}
		name := e.Name()
		full, rel := filepath.Join(path, name), where+"/"+name
		switch {
		case strings.HasPrefix(name, "."):
			r.skip(full, "its name starts with a dot: K3s skips such files, and the build enters no such directory (.git, an editor's)")
		case e.Type()&fs.ModeSymlink != 0:
			r.probs.add(full, 0, "a symbolic link: the build follows none; put the file itself there, or list what it points to under manifests")
		case e.IsDir():
			r.subdir(dir, name, full, rel, depth+1)
		case strings.HasSuffix(name, ".skip"):
			r.skip(full, "K3s's marker to skip "+strings.TrimSuffix(name, ".skip"))
		case !hasK3sExtension(name):
			r.skip(full, "not named *.yaml, *.yml or *.json: K3s does not apply it")
		case skips[name]:
			r.skip(full, name+".skip is beside it: K3s skips it")
		case !e.Type().IsRegular():
			r.probs.add(full, 0, "not a regular file (%s)", e.Type())
		default:
			r.file(dir, name, full, rel)
		}
	}
}

// subdir walks the directory name in dir without following a link.
func (r *reader) subdir(dir *os.File, name, full, rel string, depth int) {
	if depth > MaxDepth {
		r.probs.add(full, 0, "more than %d directories deep below the entry (MaxDepth)", MaxDepth)
		return
	}
	var fd int
	var err error
	ctlErr := withFd(dir, func(dirfd int) {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err = errors.Join(ctlErr, err); err != nil {
		r.probs.add(full, 0, "open directory: %v", err)
		return
	}
	sub := os.NewFile(uintptr(fd), full)
	defer sub.Close()
	r.walk(sub, full, rel, depth)
}

// withFd runs fn with dir's file descriptor.
func withFd(dir *os.File, fn func(dirfd int)) error {
	raw, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	return raw.Control(func(fd uintptr) { fn(int(fd)) })
}

// readDir lists dir sorted by name, counting its entries against
// MaxDirEntries.
func (r *reader) readDir(dir *os.File, path string) []fs.DirEntry {
	var all []fs.DirEntry
	for {
		batch, err := dir.ReadDir(256)
		all = append(all, batch...)
		r.dirs += len(batch)
		if r.dirs > MaxDirEntries {
			r.probs.add(path, 0, "the manifest directories hold more than %d entries in all (MaxDirEntries): list directories of manifests, not a tree around them", MaxDirEntries)
			r.full = true
			return nil
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.probs.add(path, 0, "read directory: %v", err)
			return nil
		}
	}
	slices.SortFunc(all, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return all
}

func (r *reader) skip(path, reason string) {
	r.set.skipped = append(r.set.skipped, Skipped{Path: path, Reason: reason})
}

// file reads and checks the manifest name in dir, at path full.
func (r *reader) file(dir *os.File, name, full, where string) {
	if r.files++; r.files > MaxFiles {
		r.probs.add(full, 0, "more than %d manifest files (MaxFiles): K3s re-reads each every 15 seconds; join small ones", MaxFiles)
		r.full = true
		return
	}
	data, err := smallfile.ReadIn(dir, name, MaxFileBytes)
	if err != nil {
		r.probs.add(full, 0, "%s", readProblem(err))
		return
	}
	if r.bytes += int64(len(data)); r.bytes > MaxTotalBytes {
		r.probs.add(full, 0, "the manifests hold more than %d bytes in all (MaxTotalBytes)", MaxTotalBytes)
		r.full = true
		return
	}
	addon := addonName(name)
	if addon == "" || len(validation.IsDNS1123Subdomain(addon)) > 0 {
		r.probs.add(full, 0, "the file name gives K3s's Addon name %q (the name up to its first dot), which is not %s: rename the file", addon, labelRule)
	}
	before := len(r.probs.errs) + r.probs.more
	objs, warnings := parseFile(full, where, data, &r.probs, r.set.addImage)
	r.set.warnings = append(r.set.warnings, warnings...)
	if len(objs) == 0 && len(r.probs.errs)+r.probs.more == before {
		r.set.warnings = append(r.set.warnings, full+": holds no Kubernetes object: K3s applies nothing from it")
	}
	r.set.files = append(r.set.files, File{Name: addon + ".yaml", Addon: addon, Source: full, Where: where, Data: data, Objects: objs})
}

// checkNames refuses an Addon name taken twice or taken by K3s.
func (r *reader) checkNames() {
	own := k3sOwn()
	first := map[string]File{}
	for _, f := range r.set.files {
		if what, ok := own[f.Addon]; ok {
			r.probs.add(f.Source, 0, "its K3s Addon name %q (the file name up to its first dot) is taken by %s: rename the file", f.Addon, what)
		}
		prev, ok := first[f.Addon]
		switch {
		case !ok:
			first[f.Addon] = f
		case prev.Source == f.Source:
			r.probs.add(f.Source, 0, "listed twice under manifests")
		default:
			r.probs.add(f.Source, 0, "%s and %s both take K3s's Addon name %q (a file's name up to its first dot): K3s tracks them as one Addon, applying either prunes the other's objects, and the build would place both as %s; rename one", prev.Source, f.Source, f.Addon, f.Name)
		}
	}
}

// readProblem words an error of smallfile.ReadIn without repeating the
// path.
func readProblem(err error) string {
	switch {
	case errors.Is(err, smallfile.ErrTooLarge):
		return fmt.Sprintf("larger than %d bytes (MaxFileBytes): split it into several files", MaxFileBytes)
	case errors.Is(err, smallfile.ErrNotRegular):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err.Error()
		}
	}
	return osProblem(err)
}

// osProblem is the error of an os call without the path it repeats.
func osProblem(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
