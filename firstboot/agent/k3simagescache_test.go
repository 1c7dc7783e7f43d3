package agent

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// k3sStartDouble is a test double of which files of its images directory
// K3s v1.36 imports when it starts, written from k3s-io/k3s
// pkg/agent/containerd/watcher.go (release-1.36):
//
//   - loadCache reads .cache.json if it exists (an empty file is an empty
//     cache) into a map from file path to size and mtime;
//   - processImageEvent stats each file (through a symlink) with a name
//     K3s imports and imports it if the cache lacks it, or if its size
//     changed and its mtime advanced; it then records the file;
//   - syncCache writes the map only into an existing .cache.json
//     (O_WRONLY|O_TRUNC, no O_CREATE).
//
// It returns the names of the files imported. Every image K3s pinned
// before is unpinned at the start (containerd.go, clearLabels), so only
// the images of these files are pinned afterwards. A link's absolute
// target is looked up under root, the test's stand-in for /.
func k3sStartDouble(t *testing.T, root string) []string {
	t.Helper()
	dir := filepath.Join(root, payload.K3sAgentImagesDir)
	type fileInfo struct {
		Size    int64     `json:"size"`
		ModTime time.Time `json:"modTime"`
	}
	cachePath := filepath.Join(dir, importCache)
	cache := map[string]fileInfo{}
	raw, err := os.ReadFile(cachePath)
	switch {
	case err == nil && len(raw) > 0:
		if err := json.Unmarshal(raw, &cache); err != nil {
			t.Fatalf("K3s would not load %s: %v", cachePath, err)
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var imported []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		target := p
		if l, err := os.Readlink(p); err == nil && filepath.IsAbs(l) {
			target = filepath.Join(root, l)
		}
		info, err := os.Stat(target)
		if err != nil || info.IsDir() || (payload.K3sArchiveExtension(e.Name()) == "" && !strings.HasSuffix(e.Name(), ".txt")) {
			continue
		}
		last, ok := cache[p]
		if ok && !(info.Size() != last.Size && info.ModTime().After(last.ModTime)) {
			continue
		}
		imported = append(imported, e.Name())
		cache[p] = fileInfo{Size: info.Size(), ModTime: info.ModTime()}
	}
	if f, err := os.OpenFile(cachePath, os.O_WRONLY|os.O_TRUNC, 0o644); err == nil {
		if err := json.NewEncoder(f).Encode(cache); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return imported
}

// TestK3sImagesKeepsEveryArchiveImported: after the step K3s imports, and
// so pins, every archive at every start, also when the first boot seeded
// the empty .cache.json earlier images baked. The double's first two
// starts show what that cache did: the second start imported nothing, so
// every baked image stayed unpinned for kubelet's image GC.
func TestK3sImagesKeepsEveryArchiveImported(t *testing.T) {
	root := t.TempDir()
	sums := putArchives(t, root, map[string]string{airgapName: "images v1", "appliance-platform.tar": "platform"})
	links := []string{"appliance-platform-" + sums["appliance-platform.tar"][:12] + ".tar",
		"k3s-airgap-images-amd64-" + sums[airgapName][:12] + ".tar.zst"}
	dir := filepath.Join(root, payload.K3sAgentImagesDir)
	if _, err := runK3sImages(t, root); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, root, payload.K3sAgentImagesDir+"/"+importCache, "")
	if got := k3sStartDouble(t, root); !slices.Equal(got, links) {
		t.Fatalf("with the old cache K3s's first start imports %q, want %q", got, links)
	}
	if got := k3sStartDouble(t, root); len(got) != 0 {
		t.Fatalf("with the old cache K3s's second start imports %q, want nothing (the double must model the cache)", got)
	}

	out, err := runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-images: removed /var/lib/rancher/k3s/agent/images/.cache.json: K3s would not import the archives it lists, and so not pin their images\n"; !strings.HasPrefix(out, want) {
		t.Errorf("printed:\n%s\nwant it to start with:\n%s", out, want)
	}
	for start := 1; start <= 3; start++ {
		if got := k3sStartDouble(t, root); !slices.Equal(got, links) {
			t.Errorf("K3s start %d imports %q, want every archive %q", start, got, links)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, importCache)); !os.IsNotExist(err) {
		t.Errorf("%s is there after K3s's starts (lstat err %v)", importCache, err)
	}

	// The next boot finds nothing to remove.
	out, err = runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "removed") {
		t.Errorf("second boot printed:\n%s", out)
	}
}

// TestK3sImagesCreatesImagesDir: when the directory vanished, the step
// makes it again, without an import cache.
func TestK3sImagesCreatesImagesDir(t *testing.T) {
	root := t.TempDir()
	sum := putArchives(t, root, map[string]string{airgapName: "images v1"})[airgapName]
	link := "k3s-airgap-images-amd64-" + sum[:12] + ".tar.zst"
	out, err := runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-images: linked /var/lib/rancher/k3s/agent/images/" + link + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n"; out != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out, want)
	}
	if got, want := imagesDirState(t, root), map[string]string{link: "-> /usr/lib/appliance/k3s/images/" + airgapName}; len(got) != 1 || got[link] != want[link] {
		t.Errorf("images dir: %q, want %q", got, want)
	}
}
