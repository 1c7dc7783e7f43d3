package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

const airgapName = "k3s-airgap-images-amd64.tar.zst"

// putArchives replaces the image's archives and manifest with files (name
// to content), as a new OS image would, and returns each archive's sha256.
func putArchives(t *testing.T, root string, files map[string]string) map[string]string {
	t.Helper()
	dir := filepath.Join(root, payload.K3sImagesDir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	sums, manifest := map[string]string{}, ""
	for name, content := range files {
		writeTestFile(t, root, filepath.Join(payload.K3sImagesDir, name), content)
		h := sha256.Sum256([]byte(content))
		sums[name] = hex.EncodeToString(h[:])
		manifest += sums[name] + "  " + name + "\n"
	}
	writeTestFile(t, root, payload.K3sImagesManifest, manifest)
	return sums
}

// imagesDirState describes each entry of the agent images directory: a
// link's target or a file's content.
func imagesDirState(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := filepath.Join(root, payload.K3sAgentImagesDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Type() == os.ModeSymlink {
			target, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			state[e.Name()] = "-> " + target
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		state[e.Name()] = "file " + string(data)
	}
	return state
}

func runK3sImages(t *testing.T, root string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := k3sImages(context.Background(), newTestEnv(root, &out, testClock))
	return out.String(), err
}

func TestK3sImagesBootsAndUpgrade(t *testing.T) {
	root := t.TempDir()
	v1 := putArchives(t, root, map[string]string{airgapName: "images v1"})[airgapName]
	// What an operator put there.
	writeTestFile(t, root, payload.K3sAgentImagesDir+"/site-extra.tar", "operator's archive")
	foreign := filepath.Join(root, payload.K3sAgentImagesDir, "gpu-operator.tar.zst")
	if err := os.Symlink("/srv/images/gpu-operator.tar.zst", foreign); err != nil {
		t.Fatal(err)
	}
	link1 := "k3s-airgap-images-amd64-" + v1[:12] + ".tar.zst"
	operator := map[string]string{
		"site-extra.tar":       "file operator's archive",
		"gpu-operator.tar.zst": "-> /srv/images/gpu-operator.tar.zst",
	}
	withOperator := func(links map[string]string) map[string]string {
		for k, v := range operator {
			links[k] = v
		}
		return links
	}

	// First boot: the link is made.
	out, err := runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-images: linked /var/lib/rancher/k3s/agent/images/" + link1 + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n"; out != want {
		t.Errorf("first boot printed %q, want %q", out, want)
	}
	want1 := withOperator(map[string]string{link1: "-> /usr/lib/appliance/k3s/images/" + airgapName})
	if got := imagesDirState(t, root); !reflect.DeepEqual(got, want1) {
		t.Errorf("after first boot: %q, want %q", got, want1)
	}
	before, err := os.Lstat(filepath.Join(root, payload.K3sAgentImagesDir, link1))
	if err != nil {
		t.Fatal(err)
	}

	// Second boot: nothing changes, the link is the same inode.
	out, err = runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-images: kept /var/lib/rancher/k3s/agent/images/" + link1 + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n"; out != want {
		t.Errorf("second boot printed %q, want %q", out, want)
	}
	if got := imagesDirState(t, root); !reflect.DeepEqual(got, want1) {
		t.Errorf("after second boot: %q, want %q", got, want1)
	}
	after, err := os.Lstat(filepath.Join(root, payload.K3sAgentImagesDir, link1))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("second boot replaced the link (err %v)", err)
	}

	// An upgraded image: another archive under the same name, and a second
	// archive.
	sums := putArchives(t, root, map[string]string{airgapName: "images v2", "extra-images.tar": "extra"})
	link2 := "k3s-airgap-images-amd64-" + sums[airgapName][:12] + ".tar.zst"
	extra := "extra-images-" + sums["extra-images.tar"][:12] + ".tar"
	out, err = runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	want := "firstboot: k3s-images: linked /var/lib/rancher/k3s/agent/images/" + extra + " -> /usr/lib/appliance/k3s/images/extra-images.tar\n" +
		"firstboot: k3s-images: linked /var/lib/rancher/k3s/agent/images/" + link2 + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n" +
		"firstboot: k3s-images: removed stale /var/lib/rancher/k3s/agent/images/" + link1 + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n"
	if out != want {
		t.Errorf("upgrade boot printed:\n%s\nwant:\n%s", out, want)
	}
	want2 := withOperator(map[string]string{
		link2: "-> /usr/lib/appliance/k3s/images/" + airgapName,
		extra: "-> /usr/lib/appliance/k3s/images/extra-images.tar",
	})
	if got := imagesDirState(t, root); !reflect.DeepEqual(got, want2) {
		t.Errorf("after upgrade: %q, want %q", got, want2)
	}
}

func TestK3sImagesNoK3s(t *testing.T) {
	root := t.TempDir()
	out, err := runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-images: no /usr/lib/appliance/k3s/images in this image (no K3s)\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	if _, err := os.Lstat(filepath.Join(root, payload.K3sAgentImagesDir)); !os.IsNotExist(err) {
		t.Errorf("created %s (lstat err %v)", payload.K3sAgentImagesDir, err)
	}
}

func TestK3sImagesLinkName(t *testing.T) {
	digest := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for name, want := range map[string]string{
		"k3s-airgap-images-amd64.tar.zst": "k3s-airgap-images-amd64-0123456789ab.tar.zst",
		"a.tar":                           "a-0123456789ab.tar",
		"b.tgz":                           "b-0123456789ab.tgz",
		"C.TAR.GZ":                        "C-0123456789ab.TAR.GZ",
	} {
		if got := (imageArchive{digest: digest, name: name}).linkName(); got != want {
			t.Errorf("link name of %s = %s, want %s", name, got, want)
		}
	}
}

func TestK3sImagesErrors(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	m := payload.K3sImagesManifest
	for _, tc := range []struct {
		name     string
		manifest string // "" leaves no manifest
		archives []string
		setup    func(t *testing.T, root string)
		want     string // ROOT stands for the root
	}{
		{name: "missing archive", manifest: sum + "  " + airgapName + "\n",
			want: m + " line 1: archive /usr/lib/appliance/k3s/images/" + airgapName + " is missing"},
		{name: "archive is a directory", manifest: "\n" + sum + " *" + airgapName + "\n",
			setup: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, payload.K3sImagesDir, airgapName), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: m + " line 2: archive /usr/lib/appliance/k3s/images/" + airgapName + " is not a regular file"},
		{name: "no manifest", want: "read k3s image manifest: open ROOT" + m + ": no such file or directory"},
		{name: "bad line", manifest: "abc  " + airgapName + "\n",
			want: m + ` line 1: want "<sha256 hex>  <file name>", got "abc  ` + airgapName + `"`},
		{name: "path", manifest: sum + "  ../images.tar\n", want: m + ` line 1: "../images.tar" is not a file name`},
		{name: "not importable", manifest: sum + "  images.zip\n", archives: []string{"images.zip"},
			want: m + " line 1: images.zip is not a name K3s imports"},
		{name: "twice", manifest: sum + "  a.tar\n" + sum + "  a.tar\n", archives: []string{"a.tar"},
			want: m + " line 2: a.tar listed twice"},
		{name: "operator file at the link name", manifest: sum + "  a.tar\n", archives: []string{"a.tar"},
			setup: func(t *testing.T, root string) {
				writeTestFile(t, root, payload.K3sAgentImagesDir+"/a-0123456789ab.tar", "operator's")
			},
			want: "/var/lib/rancher/k3s/agent/images/a-0123456789ab.tar exists and is not a link: not replacing it"},
		{name: "foreign link at the link name", manifest: sum + "  a.tar\n", archives: []string{"a.tar"},
			setup: func(t *testing.T, root string) {
				dir := filepath.Join(root, payload.K3sAgentImagesDir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/srv/a.tar", filepath.Join(dir, "a-0123456789ab.tar")); err != nil {
					t.Fatal(err)
				}
			},
			want: "/var/lib/rancher/k3s/agent/images/a-0123456789ab.tar exists and links to /srv/a.tar, not into /usr/lib/appliance/k3s/images: not replacing it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, payload.K3sImagesDir), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.manifest != "" {
				writeTestFile(t, root, m, tc.manifest)
			}
			for _, a := range tc.archives {
				writeTestFile(t, root, filepath.Join(payload.K3sImagesDir, a), "archive")
			}
			if tc.setup != nil {
				tc.setup(t, root)
			}
			out, err := runK3sImages(t, root)
			want := strings.ReplaceAll(tc.want, "ROOT", root)
			if err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
			if out != "" {
				t.Errorf("printed %q on error", out)
			}
		})
	}
}
