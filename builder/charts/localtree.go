package charts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"

	"github.com/ml-appliance/appliance/internal/nofollow"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// A chart directory is read the way Helm's loader.LoadDir reads it
// (helm.sh/helm/v3 v3.22.0 pkg/chart/loader/directory.go): the top
// .helmignore's rules plus rules.AddDefaults ("templates/.?*"), an ignored
// directory skipped whole, files named by their slash-separated path
// below the chart, a leading UTF-8 BOM dropped, then loader.LoadFiles.
// It differs where LoadDir is unsafe on a tree someone else wrote:
//   - LoadDir walks with internal/sympath.Walk, which follows symbolic
//     links (symwalk: filepath.EvalSymlinks, then it logs "found symbolic
//     link in path ... Contents of linked file included and used"), so a
//     link could bring any file of the build host into the chart. Here a
//     symbolic link anywhere in the tree is refused, .helmignore'd or
//     not (Helm resolves a link before it applies .helmignore, and its
//     rules then match the target's type); every directory is opened from
//     its parent's descriptor with O_NOFOLLOW and every file through
//     smallfile.ReadIn (O_NOFOLLOW|O_NONBLOCK, regular files only), so
//     nothing is resolved by name twice.
//   - LoadDir refuses an irregular file only after an Lstat and then opens
//     it by name (os.ReadFile), which blocks on a FIFO put there in
//     between; here a FIFO, device or socket is refused from its directory
//     entry and never opened.
//   - LoadDir bounds each file by loader.MaxDecompressedFileSize (from its
//     Lstat size) but not the whole; here each file is bounded as read,
//     and the whole by loader.MaxDecompressedChartSize too, the bound
//     Helm's archive loader (archive.go LoadArchiveFiles) puts on the
//     archive the chart is packaged into. Helm has no bound on a tree's
//     entries or depth; here maxChartEntries and maxChartDepth keep a
//     directory of millions of (empty) files or a deep tree from taking
//     the build's memory or file descriptors.

const (
	// dirFlags opens a directory of the tree without following a link.
	dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	// maxChartEntries bounds the entries of the directories walked, in
	// all (.helmignore'd ones included, not those of an ignored
	// directory); a chart is templates and a few files, so this leaves
	// room for many vendored subcharts.
	maxChartEntries = 10000
	// maxChartDepth bounds how deep the walk goes below the chart
	// (charts/a/charts/b/templates/x.yaml is 5 deep).
	maxChartDepth = 32
)

// chartTree reads a chart directory's files.
type chartTree struct {
	rules   *ignore.Rules
	files   []*loader.BufferedFile
	left    int64 // bytes the files may still hold in all
	entries int   // directory entries listed so far
	// maxEntries is maxChartEntries but in a test.
	maxEntries int
}

// readChartDir reads the chart directory dir (not itself a symbolic
// link): every file Helm would load, sorted by name.
func readChartDir(dir string) ([]*loader.BufferedFile, error) {
	return readChartDirBounded(dir, maxChartEntries)
}

// readChartDirBounded is readChartDir with maxChartEntries set to
// maxEntries.
func readChartDirBounded(dir string, maxEntries int) ([]*loader.BufferedFile, error) {
	fd, err := unix.Open(dir, dirFlags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	root := os.NewFile(uintptr(fd), dir)
	defer root.Close()
	var st unix.Stat_t
	switch err := unix.Fstatat(fd, "Chart.yaml", &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT):
		return nil, errors.New("not a chart directory: no Chart.yaml")
	case err != nil:
		return nil, &fs.PathError{Op: "stat", Path: filepath.Join(dir, "Chart.yaml"), Err: err}
	}
	t := &chartTree{rules: ignore.Empty(), left: loader.MaxDecompressedChartSize - 1, maxEntries: maxEntries}
	if err := t.readIgnore(root); err != nil {
		return nil, err
	}
	if err := t.walk(root, "", 0); err != nil {
		return nil, err
	}
	slices.SortFunc(t.files, func(a, b *loader.BufferedFile) int { return strings.Compare(a.Name, b.Name) })
	return t.files, nil
}

// readIgnore parses the top .helmignore, when there is one, as LoadDir
// does (ignore.ParseFile there, which opens it by name).
func (t *chartTree) readIgnore(root *os.File) error {
	raw, err := smallfile.ReadIn(root, ignore.HelmIgnore, loader.MaxDecompressedFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if t.rules, err = ignore.Parse(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
	}
	t.rules.AddDefaults()
	return nil
}

// walk reads the directory dir, at rel below the chart ("" for the top,
// else ending in "/"), depth directories below it.
func (t *chartTree) walk(dir *os.File, rel string, depth int) error {
	entries, err := t.list(dir, rel)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := rel + e.Name()
		fi, err := e.Info() // lstat: a link is seen as a link
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return t.linkError(dir, e.Name(), name)
		}
		if t.rules.Ignore(name, fi) {
			continue
		}
		switch {
		case fi.IsDir() && depth == maxChartDepth:
			err = fmt.Errorf("%s is more than %d directories deep in the chart", name, maxChartDepth)
		case fi.IsDir():
			err = t.walkSub(dir, e.Name(), name, depth+1)
		case fi.Mode().IsRegular():
			err = t.read(dir, e.Name(), name)
		default:
			err = fmt.Errorf("%s is %s, not a regular file", name, smallfile.Kind(fi.Mode()))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// list returns dir's entries (dir is at rel below the chart) in lexical
// order, as sympath.Walk visits them, counting them against
// maxChartEntries.
func (t *chartTree) list(dir *os.File, rel string) ([]fs.DirEntry, error) {
	var all []fs.DirEntry
	for {
		batch, err := dir.ReadDir(256)
		all = append(all, batch...)
		if t.entries += len(batch); t.entries > t.maxEntries {
			return nil, fmt.Errorf("the chart's directories hold more than %d entries (by %s)", t.maxEntries, path.Clean("./"+rel))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read directory %s: %w", dir.Name(), err)
		}
	}
	slices.SortFunc(all, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return all, nil
}

// walkSub walks the subdirectory base of dir, named name in the chart,
// depth directories below it.
func (t *chartTree) walkSub(dir *os.File, base, name string, depth int) error {
	fd, err := unix.Openat(int(dir.Fd()), base, dirFlags, 0)
	switch {
	case errors.Is(err, unix.ELOOP):
		return t.linkError(dir, base, name) // replaced since it was listed
	case err != nil:
		return &fs.PathError{Op: "open", Path: filepath.Join(dir.Name(), base), Err: err}
	}
	sub := os.NewFile(uintptr(fd), filepath.Join(dir.Name(), base))
	defer sub.Close()
	return t.walk(sub, name+"/", depth)
}

// read reads the file base of dir, named name in the chart, within the
// bounds.
func (t *chartTree) read(dir *os.File, base, name string) error {
	limit := min(loader.MaxDecompressedFileSize, t.left)
	data, err := smallfile.ReadIn(dir, base, limit)
	switch {
	case errors.Is(err, smallfile.ErrTooLarge) && limit == loader.MaxDecompressedFileSize:
		return fmt.Errorf("%s is larger than %d bytes, the largest file Helm loads (loader.MaxDecompressedFileSize)",
			name, loader.MaxDecompressedFileSize)
	case errors.Is(err, smallfile.ErrTooLarge):
		return fmt.Errorf("with %s the chart's files reach %d bytes, more than Helm loads from a chart archive (loader.MaxDecompressedChartSize)",
			name, loader.MaxDecompressedChartSize)
	case err != nil:
		return err
	}
	t.left -= int64(len(data))
	t.files = append(t.files, &loader.BufferedFile{Name: name, Data: bytes.TrimPrefix(data, []byte(utf8BOM))})
	return nil
}

// utf8BOM is dropped from the start of each file, as LoadDir does.
const utf8BOM = "\xef\xbb\xbf"

// linkError refuses the symbolic link base of dir, named name in the chart.
func (t *chartTree) linkError(dir *os.File, base, name string) error {
	return fmt.Errorf("%s is a symbolic link (to %s): a chart's files must be in its directory (Helm would follow the link); copy it in instead",
		path.Clean(name), nofollow.LinkTarget(int(dir.Fd()), base))
}
