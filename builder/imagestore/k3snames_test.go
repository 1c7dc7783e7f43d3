package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// k3sPreloadNames is a test double of what K3s v1.36 makes of the names in
// an archive's index.json, written from its source (k3s-io/k3s,
// pkg/agent/containerd/containerd.go, release-1.36: preloadFile,
// retagImages, parseNamedTagged) and containerd v2.3's import
// (client/import.go, Import and imageName). It returns the containerd
// image names the preload leaves, each with its target digest, or the
// errors K3s would hit.
//
//   - containerd names an index.json entry by its io.containerd.image.name
//     annotation, else by its org.opencontainers.image.ref.name as it is
//     (K3s imports with WithAllPlatforms(true) and WithSkipMissing() and no
//     WithImageRefTranslator), and skips an entry with neither;
//   - retagImages parses every imported name with
//     reference.ParseNormalizedNamed and needs a reference.NamedTagged
//     (parseNamedTagged); each failure is collected, the file's import
//     then "fails" (preloadFile returns before labelContent, and the
//     watcher does not record the file in .cache.json);
//   - for each tagged name K3s creates <name.Name()>@<target digest>
//     (newNames in retagImages; no airgap-extra-registry is configured).
func k3sPreloadNames(idx v1.IndexManifest) (map[string]v1.Hash, error) {
	names := map[string]v1.Hash{}
	var errs []error
	for _, m := range idx.Manifests {
		n := m.Annotations[AnnotationImageName]
		if n == "" {
			n = m.Annotations[AnnotationRefName]
		}
		if n == "" {
			continue
		}
		names[n] = m.Digest
		ref, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to parse tag for image %s: %w", n, err))
			continue
		}
		tagged, ok := ref.(reference.NamedTagged)
		if !ok {
			errs = append(errs, fmt.Errorf("failed to parse tag for image %s: can't cast %T to NamedTagged", n, ref))
			continue
		}
		names[tagged.Name()+"@"+m.Digest.String()] = m.Digest
	}
	return names, errors.Join(errs...)
}

// criFinds says whether containerd's CRI finds a pod's image reference
// under the containerd image name n: CRI looks a reference up by its
// normalised form (reference.ParseDockerRef(ref).String(), in
// internal/cri/server/images/service.go, LocalResolve, containerd v2.3)
// among the image names verbatim, so a name that is not in that form is
// never found.
func criFinds(podRef, n string) bool {
	r, err := reference.ParseDockerRef(podRef)
	return err == nil && r.String() == n
}

func readIndex(t *testing.T, archive []byte) v1.IndexManifest {
	t.Helper()
	dir := t.TempDir()
	untar(t, archive, dir)
	return indexIn(t, dir)
}

// indexIn reads the index.json of an extracted archive.
func indexIn(t *testing.T, dir string) v1.IndexManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestArchiveNamesFollowK3sRules writes an archive of tagged, multi-arch
// and digest-only images and checks its index.json against K3s's naming
// rules: K3s imports it without an error, and afterwards each image is
// found by CRI under the reference it was asked for and as
// <repository>@<registry digest>, pointing at the registry's digest.
func TestArchiveNamesFollowK3sRules(t *testing.T) {
	f := newFixture(t)
	multiByDigest := f.host + "/library/multi@" + testfixture.Digest(t, f.multi).String()
	refs := []string{f.refA, f.refB, f.refMulti, f.refBByDigest, multiByDigest}
	imgs := f.pull(t, refs...)
	idx := readIndex(t, writeArchive(t, imgs))

	names, err := k3sPreloadNames(idx)
	if err != nil {
		t.Errorf("K3s's preload fails on the archive: %v", err)
	}
	for _, m := range idx.Manifests {
		n := m.Annotations[AnnotationImageName]
		if r, err := reference.ParseDockerRef(n); err != nil || r.String() != n {
			t.Errorf("index.json name %q is not containerd-normalised (%v, %v)", n, r, err)
		}
	}
	for _, img := range imgs {
		want := img.RegistryDigest()
		repo, err := reference.ParseNormalizedNamed(img.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, podRef := range []string{img.Ref, repo.Name() + "@" + want.String()} {
			found := false
			for n, d := range names {
				if criFinds(podRef, n) {
					found = true
					if d != want {
						t.Errorf("%s resolves to %s via %s, want %s", podRef, d, n, want)
					}
				}
			}
			if !found {
				t.Errorf("after K3s's preload no image name serves %s; names: %v", podRef, names)
			}
		}
	}
}

// TestK3sRulesRejectDigestOnlyName: the old archive listed every image a
// second time as repository@<digest>; K3s's retag fails on that name.
func TestK3sRulesRejectDigestOnlyName(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	idx := v1.IndexManifest{Manifests: []v1.Descriptor{
		{Digest: d, Annotations: map[string]string{AnnotationImageName: "docker.io/library/nginx:1.25.4", AnnotationRefName: "1.25.4"}},
		{Digest: d, Annotations: map[string]string{AnnotationImageName: "docker.io/library/nginx@" + d.String(), AnnotationRefName: "docker.io/library/nginx@" + d.String()}},
	}}
	_, err := k3sPreloadNames(idx)
	if err == nil || !strings.Contains(err.Error(), "docker.io/library/nginx@"+d.String()) {
		t.Errorf("K3s's rules accept a digest-only name (err %v)", err)
	}
	idx.Manifests = idx.Manifests[:1]
	if _, err := k3sPreloadNames(idx); err != nil {
		t.Errorf("K3s's rules reject a tagged name: %v", err)
	}
}

func TestArchiveNameOfDigestOnlyImage(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, f.refBByDigest)[0]
	want := f.host + "/team/app-b:sha256-" + testfixture.Digest(t, f.appB).Hex
	if got, err := archiveName(img); err != nil || got != want {
		t.Errorf("archiveName = %q, %v; want %q", got, err, want)
	}
	img.Name = f.host + "/team/app-b@sha256:" + strings.Repeat("b", 64)
	if _, err := archiveName(img); err == nil || !strings.Contains(err.Error(), "resolved it to") {
		t.Errorf("archiveName of a digest the registry did not resolve to: err %v", err)
	}
}
