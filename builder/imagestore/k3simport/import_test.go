package k3simport

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/labels"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/platforms"
	docker "github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/ml-appliance/appliance/builder/imagestore"
)

// podRefs are the references a pod may name img by: as it was asked for
// (a chart's tag, or a digest) and as <repository>@<registry digest>.
func podRefs(t *testing.T, img imagestore.Image) []string {
	t.Helper()
	repo, err := docker.ParseNormalizedNamed(img.Name)
	if err != nil {
		t.Fatal(err)
	}
	return []string{img.Ref, repo.Name() + "@" + img.RegistryDigest().String()}
}

// criStatus asks containerd's CRI for ref the way kubelet does
// (ImageStatus) until want(status) holds or five seconds pass: CRI learns
// of image changes from containerd's events, asynchronously.
func criStatus(t *testing.T, d *daemon, ref string, want func(*runtimeapi.Image) bool) *runtimeapi.Image {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := d.cri.ImageStatus(context.Background(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err != nil {
			t.Fatalf("CRI ImageStatus %s: %v", ref, err)
		}
		if want(resp.Image) || time.Now().After(deadline) {
			return resp.Image
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pinned(img *runtimeapi.Image) bool   { return img != nil && img.Pinned }
func unpinned(img *runtimeapi.Image) bool { return img != nil && !img.Pinned }

// checkPinned checks CRI finds every image by each pod reference, as the
// linux/amd64 image (its config digest is CRI's image ID) and pinned.
func checkPinned(t *testing.T, d *daemon, p *platform) {
	t.Helper()
	for _, img := range p.images {
		cfg := p.amd64[img.Ref].config
		for _, ref := range podRefs(t, img) {
			got := criStatus(t, d, ref, pinned)
			switch {
			case got == nil:
				t.Errorf("CRI has no image %s", ref)
			case got.Id != cfg.String():
				t.Errorf("CRI image %s is %s, want the amd64 config %s", ref, got.Id, cfg)
			case !got.Pinned:
				t.Errorf("CRI image %s is not pinned: kubelet's image GC may delete it", ref)
			}
		}
	}
}

// TestK3sImportsPlatformArchive imports the archive the builder writes
// into containerd 2.3 as K3s v1.36 does (k3sPreloadDouble), then checks
// what kubelet and the embedded registry will see: every image resolves
// through CRI by its tag and by name@<registry digest> to the registry's
// digest, pinned, with all its linux/amd64 content and the distribution
// source labels, and no arm64 content.
func TestK3sImportsPlatformArchive(t *testing.T) {
	p := newPlatform(t)
	d := startDaemon(t)
	start := time.Now()
	if _, err := k3sPreloadDouble(context.Background(), d.client, p.archive); err != nil {
		t.Fatalf("K3s's preload of %s: %v", p.archive, err)
	}
	t.Logf("imported in %s", time.Since(start))

	ctx := namespaces.WithNamespace(context.Background(), k8sNamespace)
	is, cs := d.client.ImageService(), d.client.ContentStore()
	amd64 := platforms.OnlyStrict(platforms.MustParse("linux/amd64"))
	for _, img := range p.images {
		for _, ref := range podRefs(t, img) {
			named, err := docker.ParseDockerRef(ref)
			if err != nil {
				t.Fatal(err)
			}
			ci, err := is.Get(ctx, named.String())
			if err != nil {
				t.Errorf("containerd image %s (pod reference %s): %v", named, ref, err)
				continue
			}
			if ci.Target.Digest.String() != img.RegistryDigest().String() {
				t.Errorf("containerd image %s is %s, want the registry's %s", named, ci.Target.Digest, img.RegistryDigest())
			}
			available, _, _, missing, err := images.Check(ctx, cs, ci.Target, amd64)
			if err != nil || !available || len(missing) > 0 {
				t.Errorf("containerd image %s linux/amd64: available %v, missing %v, err %v", named, available, missing, err)
			}
		}
		layer := p.amd64[img.Ref].layer
		info, err := cs.Info(ctx, digest.Digest(layer.String()))
		if err != nil {
			t.Fatalf("layer %s of %s: %v", layer, img.Name, err)
		}
		if key := labels.LabelDistributionSource + "." + p.host; info.Labels[key] == "" {
			t.Errorf("layer %s of %s has no %s label (labels %v)", layer, img.Name, key, info.Labels)
		}
	}
	for _, h := range p.arm64 {
		if _, err := cs.Info(ctx, digest.Digest(h.String())); err == nil {
			t.Errorf("arm64 blob %s is in containerd's content store", h)
		}
	}
	checkPinned(t, d, p)
}

// TestK3sFailsOnDigestOnlyNames: the archive as the builder wrote it
// before, with every image listed again as repository@<digest>, makes
// K3s's preload fail, so the content labels are never set.
func TestK3sFailsOnDigestOnlyNames(t *testing.T) {
	p := newPlatform(t)
	old := strings.TrimSuffix(p.archive, ".tar") + "-old.tar"
	withIndex(t, p.archive, old, func(idx *v1.IndexManifest) {
		for _, m := range idx.Manifests {
			n := m.Annotations[imagestore.AnnotationImageName]
			byDigest := n[:strings.LastIndex(n, ":")] + "@" + m.Digest.String()
			m.Annotations = map[string]string{imagestore.AnnotationImageName: byDigest, imagestore.AnnotationRefName: byDigest}
			idx.Manifests = append(idx.Manifests, m)
		}
	})
	d := startDaemon(t)
	_, err := k3sPreloadDouble(context.Background(), d.client, old)
	if err == nil || !strings.Contains(err.Error(), "failed to retag images") {
		t.Fatalf("K3s's preload of an archive with digest-only names: err %v, want a retag failure", err)
	}
	ctx := namespaces.WithNamespace(context.Background(), k8sNamespace)
	layer := p.amd64[p.refs[0]].layer
	info, err := d.client.ContentStore().Info(ctx, digest.Digest(layer.String()))
	if err != nil {
		t.Fatal(err)
	}
	if key := labels.LabelDistributionSource + "." + p.host; info.Labels[key] != "" {
		t.Errorf("after a failed retag layer %s has the %s label", layer, key)
	}
}

// TestBakedImagesStayPinnedAcrossK3sRestarts follows two K3s starts on
// the directory firstboot keeps (no .cache.json, firstboot/agent
// k3simages.go): at every start K3s first unpins every image it pinned
// (k3sClearLabelsDouble), so an archive it skipped would leave its images
// unpinned for kubelet's image GC; without the cache K3s imports every
// archive again (watcher.go: loadCache finds no file, so no archive is
// "already imported") and so pins every image again.
func TestBakedImagesStayPinnedAcrossK3sRestarts(t *testing.T) {
	p := newPlatform(t)
	d := startDaemon(t)
	ctx := context.Background()
	if _, err := k3sPreloadDouble(ctx, d.client, p.archive); err != nil {
		t.Fatal(err)
	}
	checkPinned(t, d, p)

	// The next start: K3s clears its pins before importing.
	if err := k3sClearLabelsDouble(ctx, d.client); err != nil {
		t.Fatal(err)
	}
	for _, img := range p.images {
		// Had K3s skipped the archive, this is what kubelet would see.
		if got := criStatus(t, d, img.Ref, unpinned); got == nil || got.Pinned {
			t.Fatalf("CRI image %s after K3s cleared its pins: %+v, want present and unpinned", img.Ref, got)
		}
	}
	start := time.Now()
	if _, err := k3sPreloadDouble(ctx, d.client, p.archive); err != nil {
		t.Fatalf("second import: %v", err)
	}
	t.Logf("imported again in %s", time.Since(start))
	checkPinned(t, d, p)
}
