package k3simport

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/ml-appliance/appliance/builder/imagestore"
)

// mirroredRegistry is the registry each repository of newPlatform's
// archive is renamed to: names a node pulls through registries.yaml
// mirrors, none of them the test registry the images came from, so a pull
// that skipped the mirror would fail rather than find them there.
func mirroredRegistry(repository string) string {
	switch {
	case strings.HasPrefix(repository, "team/app-b"):
		return "quay.io"
	case strings.HasPrefix(repository, "vendor/"):
		return "registry.example:5000"
	}
	return "docker.io"
}

// mirroredArchive is newPlatform's archive with every image renamed from
// the test registry to mirroredRegistry's: index.json changes, nothing
// else.
func mirroredArchive(t *testing.T, p *platform) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "payload.tar")
	withIndex(t, p.archive, out, func(idx *v1.IndexManifest) {
		for i, m := range idx.Manifests {
			repo := strings.TrimPrefix(m.Annotations[imagestore.AnnotationImageName], p.host+"/")
			idx.Manifests[i].Annotations[imagestore.AnnotationImageName] = mirroredRegistry(repo) + "/" + repo
		}
	})
	return out
}

// imageBlobs is every blob of img in archive: the index the registry
// served (if any), the linux/amd64 manifest, its config and layers.
func imageBlobs(t *testing.T, archive string, img imagestore.Image) map[string]bool {
	t.Helper()
	m, err := v1.ParseManifest(bytes.NewReader(archiveBlob(t, archive, img.Digest.String())))
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string]bool{img.RegistryDigest().String(): true, img.Digest.String(): true, m.Config.Digest.String(): true}
	for _, l := range m.Layers {
		blobs[l.Digest.String()] = true
	}
	return blobs
}

// TestContainerdPullsFromPayloadRegistry: the payload served by
// imageregistry on 127.0.0.1, containerd 2.3's CRI (what kubelet asks)
// configured as K3s v1.36 configures it for a registries.yaml whose
// mirrors for docker.io, quay.io and registry.example:5000 are the
// payload registry (k3sMirrorsDouble, criPullConfig) pulls and unpacks a
// multi-platform image by tag, an image by digest and a Docker schema 2
// image from a registry with a port. Each pull fetches that image's blobs
// and nothing else, every request naming its registry in ns.
func TestContainerdPullsFromPayloadRegistry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unpacking mounts overlayfs snapshots, which needs root")
	}
	p := newPlatform(t)
	archive := mirroredArchive(t, p)
	reg := servePayload(t, archive, indexDigest(t, archive))
	certs := t.TempDir()
	k3sMirrorsDouble(t, certs, reg.url, "docker.io", "quay.io", "registry.example:5000")
	d := startDaemonWith(t, criPullConfig(certs))
	ctx := namespaces.WithNamespace(context.Background(), k8sNamespace)
	for _, c := range []struct {
		ref string
		img int // its index in p.images
	}{
		{"docker.io/library/multi:3.0", 3},
		{"quay.io/team/app-b@" + p.images[4].RegistryDigest().String(), 4},
		{"registry.example:5000/vendor/tool:v7", 2},
	} {
		img := p.images[c.img]
		resp, err := d.cri.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: c.ref}})
		if err != nil {
			t.Fatalf("CRI PullImage %s: %v", c.ref, err)
		}
		if want := p.amd64[img.Ref].config.String(); resp.ImageRef != want {
			t.Errorf("CRI pulled %s as %s, want the linux/amd64 config %s", c.ref, resp.ImageRef, want)
		}
		ci, err := d.client.GetImage(ctx, c.ref)
		if err != nil {
			t.Fatalf("containerd image %s: %v", c.ref, err)
		}
		if ok, err := ci.IsUnpacked(ctx, "overlayfs"); !ok || err != nil {
			t.Errorf("%s is not unpacked into overlayfs (%v)", c.ref, err)
		}
		checkServed(t, c.ref, reg.take(), imageBlobs(t, archive, img), img.RegistryDigest().String())
	}
	if s := reg.layout.Stats(); s.Errors != 0 {
		t.Errorf("payload registry: %+v, want no error", s)
	}
}

// checkServed checks that the requests of one pull of ref all named ref's
// registry in ns, all succeeded, and fetched exactly want (a tag counts as
// the digest top it resolves to).
func checkServed(t *testing.T, ref string, log []served, want map[string]bool, top string) {
	t.Helper()
	registry := ref[:strings.Index(ref, "/")]
	got := map[string]bool{}
	for _, r := range log {
		if r.ns != registry || r.status >= 300 {
			t.Errorf("pull %s: %s %s?ns=%s answered %d, want ns=%s and success", ref, r.method, r.path, r.ns, r.status, registry)
		}
		dgst := r.path[strings.LastIndex(r.path, "/")+1:]
		if !strings.HasPrefix(dgst, "sha256:") {
			dgst = top // a tag
		}
		got[dgst] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("pull %s fetched %q, want exactly its blobs %q", ref, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	t.Logf("pull %s: %d requests for its %d blobs", ref, len(log), len(want))
}
