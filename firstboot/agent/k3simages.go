package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// k3sImages links each K3s image archive of the OS image
// (payload.K3sImagesDir, read-only) into the directory K3s imports from
// (payload.K3sAgentImagesDir, on STATE), and removes the links to archives
// the image no longer has. It runs every boot, so an upgraded image's
// archives reach the node.
//
// A link is named by the archive's digest from the builder's manifest
// (k3s-airgap-images-amd64-<12 hex>.tar.zst), so a new archive is a new
// file to K3s. Only symlinks into payload.K3sImagesDir are ever replaced or
// removed; anything else in the directory is the operator's, except K3s's
// import cache, which the step removes (see importCache).
func k3sImages(_ context.Context, env *Env) error {
	if _, err := os.Stat(env.Path(payload.K3sImagesDir)); errors.Is(err, os.ErrNotExist) {
		env.Printf("k3s-images: no %s in this image (no K3s)", payload.K3sImagesDir)
		return nil
	} else if err != nil {
		return fmt.Errorf("stat %s: %w", payload.K3sImagesDir, err)
	}
	archives, err := readImagesManifest(env)
	if err != nil {
		return err
	}
	dir := env.Path(payload.K3sAgentImagesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", payload.K3sAgentImagesDir, err)
	}
	if removed, err := removeImportCache(env); err != nil {
		return err
	} else if removed {
		env.Printf("k3s-images: removed %s: K3s would not import the archives it lists, and so not pin their images",
			path.Join(payload.K3sAgentImagesDir, importCache))
	}
	current := map[string]bool{}
	for _, a := range archives {
		name, target := a.linkName(), path.Join(payload.K3sImagesDir, a.name)
		current[name] = true
		kept, err := ensureImageLink(env, name, target)
		if err != nil {
			return err
		}
		verb := "linked"
		if kept {
			verb = "kept"
		}
		env.Printf("k3s-images: %s %s -> %s", verb, path.Join(payload.K3sAgentImagesDir, name), target)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", payload.K3sAgentImagesDir, err)
	}
	for _, e := range entries {
		if current[e.Name()] || e.Type() != os.ModeSymlink {
			continue
		}
		p := path.Join(payload.K3sAgentImagesDir, e.Name())
		target, err := os.Readlink(env.Path(p))
		if err != nil {
			return fmt.Errorf("read link %s: %w", p, err)
		}
		if !ours(target) {
			continue
		}
		if err := os.Remove(env.Path(p)); err != nil {
			return fmt.Errorf("remove stale link %s: %w", p, err)
		}
		env.Printf("k3s-images: removed stale %s -> %s", p, target)
	}
	return syncDir(dir)
}

// importCache is K3s's record of the archives it imported (path, size,
// mtime; k3s-io/k3s pkg/agent/containerd/watcher.go, release-1.36: K3s
// reads it at start if it exists, loadCache, and then skips every archive
// it lists, processImageEvent; it writes it only if it exists, syncCache).
//
// No such file may be there when K3s starts. At every start K3s first
// unpins every image it pinned (containerd.go, PreloadImages: clearLabels)
// and pins again only what it imports (preloadFile: labelImages), so the
// images of an archive the cache made it skip are left unpinned, and
// kubelet's image GC, at its thresholds or under disk pressure, deletes
// unpinned unused images (kubelet pkg/kubelet/images/image_gc_manager.go,
// freeSpace: only record.pinned, CRI's Image.pinned, is spared). In an air
// gap a deleted image can never be pulled again. K3s releases with
// k3s-io/k3s#14266 record image names in the cache to pin them again;
// v1.36.2+k3s1 does not (k3s-io/k3s#14270), and a cache an older K3s wrote
// has no names. Without the file K3s imports every archive at every start:
// a start takes about as long as the first import (containerd hashes and
// writes every blob again: builder/imagestore/k3simport measures it).
// Earlier appliance images baked an empty one, which the first boot seeded
// onto STATE, so the step removes it at every boot.
const importCache = ".cache.json"

// removeImportCache removes importCache from payload.K3sAgentImagesDir and
// says whether there was one.
func removeImportCache(env *Env) (bool, error) {
	p := path.Join(payload.K3sAgentImagesDir, importCache)
	err := os.Remove(env.Path(p))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("remove K3s's import cache: %w", err)
}

// imageArchive is one line of the manifest.
type imageArchive struct{ digest, name string }

// linkName inserts the first 12 hex digits of the digest before the
// archive's extension, which K3s needs to import it.
func (a imageArchive) linkName() string {
	ext := payload.K3sArchiveExtension(a.name)
	return a.name[:len(a.name)-len(ext)] + "-" + a.digest[:12] + a.name[len(a.name)-len(ext):]
}

var manifestLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](.+)$`)

// readImagesManifest parses payload.K3sImagesManifest and checks every
// archive it names is a regular file beside it. It hashes nothing.
func readImagesManifest(env *Env) ([]imageArchive, error) {
	m := payload.K3sImagesManifest
	data, err := os.ReadFile(env.Path(m))
	if err != nil {
		return nil, fmt.Errorf("read k3s image manifest: %w", err)
	}
	var archives []imageArchive
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if sc.Text() == "" {
			continue
		}
		f := manifestLine.FindStringSubmatch(sc.Text())
		switch {
		case f == nil:
			return nil, fmt.Errorf("%s line %d: want \"<sha256 hex>  <file name>\", got %q", m, n, sc.Text())
		case path.Base(f[2]) != f[2] || f[2] == "." || f[2] == "..":
			return nil, fmt.Errorf("%s line %d: %q is not a file name", m, n, f[2])
		case payload.K3sArchiveExtension(f[2]) == "":
			return nil, fmt.Errorf("%s line %d: %s is not a name K3s imports", m, n, f[2])
		case seen[f[2]]:
			return nil, fmt.Errorf("%s line %d: %s listed twice", m, n, f[2])
		}
		seen[f[2]] = true
		archive := path.Join(payload.K3sImagesDir, f[2])
		info, err := os.Stat(env.Path(archive))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%s line %d: archive %s is missing", m, n, archive)
		case err != nil:
			return nil, fmt.Errorf("stat k3s image archive: %w", err)
		case !info.Mode().IsRegular():
			return nil, fmt.Errorf("%s line %d: archive %s is not a regular file", m, n, archive)
		}
		archives = append(archives, imageArchive{digest: f[1], name: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", m, err)
	}
	sort.Slice(archives, func(i, j int) bool { return archives[i].name < archives[j].name })
	return archives, nil
}

// ensureImageLink makes payload.K3sAgentImagesDir/name a symlink to target,
// atomically, and says whether it already was one. It replaces only a link
// of its own.
func ensureImageLink(env *Env, name, target string) (kept bool, err error) {
	p := path.Join(payload.K3sAgentImagesDir, name)
	if old, err := os.Readlink(env.Path(p)); err == nil {
		if old == target {
			return true, nil
		}
		if !ours(old) {
			return false, fmt.Errorf("%s exists and links to %s, not into %s: not replacing it", p, old, payload.K3sImagesDir)
		}
	} else if _, statErr := os.Lstat(env.Path(p)); statErr == nil {
		return false, fmt.Errorf("%s exists and is not a link: not replacing it", p)
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return false, fmt.Errorf("stat %s: %w", p, statErr)
	}
	// The temporary name does not end in an archive extension, so K3s
	// would skip it.
	tmp := env.Path(path.Join(payload.K3sAgentImagesDir, "."+name+".tmp"))
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("remove stale %s: %w", tmp, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return false, fmt.Errorf("link %s: %w", p, err)
	}
	if err := os.Rename(tmp, env.Path(p)); err != nil {
		return false, fmt.Errorf("link %s: %w", p, err)
	}
	return false, nil
}

// ours says whether a link target is an archive of payload.K3sImagesDir,
// i.e. a link this step made.
func ours(target string) bool {
	return path.Dir(target) == payload.K3sImagesDir
}
