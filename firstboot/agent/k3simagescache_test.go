package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// TestK3sImagesRecreatesImportCache: when the images directory vanished,
// the step makes it again with K3s's empty import cache, also over what a
// power cut left of an earlier attempt; a directory that exists without the
// cache is left without it.
func TestK3sImagesRecreatesImportCache(t *testing.T) {
	root := t.TempDir()
	sum := putArchives(t, root, map[string]string{airgapName: "images v1"})[airgapName]
	link := "k3s-airgap-images-amd64-" + sum[:12] + ".tar.zst"
	writeTestFile(t, root, "/var/lib/rancher/k3s/agent/.images.tmp/.cache.json", "half")
	out, err := runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	want := "firstboot: k3s-images: created /var/lib/rancher/k3s/agent/images with an empty .cache.json\n" +
		"firstboot: k3s-images: linked /var/lib/rancher/k3s/agent/images/" + link + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n"
	if out != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out, want)
	}
	wantState := map[string]string{
		".cache.json": "file ",
		link:          "-> /usr/lib/appliance/k3s/images/" + airgapName,
	}
	if got := imagesDirState(t, root); !reflect.DeepEqual(got, wantState) {
		t.Errorf("images dir: %q, want %q", got, wantState)
	}
	if got := platformState(t, root)["var/lib/rancher/k3s/agent/images/.cache.json"]; got != "-rw-r--r-- " {
		t.Errorf(".cache.json is %q, want mode 0644 and empty", got)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/lib/rancher/k3s/agent/.images.tmp")); !os.IsNotExist(err) {
		t.Errorf("leftover .images.tmp still there (lstat err %v)", err)
	}

	// The operator removed the cache: the directory exists, so it stays so.
	if err := os.Remove(filepath.Join(root, payload.K3sAgentImagesDir, ".cache.json")); err != nil {
		t.Fatal(err)
	}
	out, err = runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-images: kept /var/lib/rancher/k3s/agent/images/" + link + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n"; out != want {
		t.Errorf("second boot printed %q, want %q", out, want)
	}
	if _, err := os.Lstat(filepath.Join(root, payload.K3sAgentImagesDir, ".cache.json")); !os.IsNotExist(err) {
		t.Errorf("made .cache.json in an existing directory (lstat err %v)", err)
	}
}
