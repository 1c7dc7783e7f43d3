package k3simport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/labels"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	docker "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The labels K3s v1.36 pins imported images with and the namespace it
// imports into (k3s-io/k3s pkg/agent/containerd/containerd.go:
// k3sPinnedImageLabelKey "io.cattle."+version.Program+".pinned" with
// Program "k3s", criPinnedImageLabelKey, criK8sContainerdNamespace).
// containerd's CRI reads the second one (internal/cri/labels/labels.go,
// PinnedImageLabelKey).
const (
	k3sPinnedLabel = "io.cattle.k3s.pinned"
	criPinnedLabel = "io.cri-containerd.pinned"
	pinnedValue    = "pinned"
	k8sNamespace   = "k8s.io"
)

// k3sPreloadDouble is a test double of what K3s v1.36 does with one image
// archive in its images directory. It follows k3s-io/k3s
// pkg/agent/containerd/containerd.go (release-1.36), preloadFile, line by
// line, with no airgap-extra-registry configured:
//
//  1. open the file (rancher/wharfie pkg/tarfile GetOpener: a plain .tar
//     is os.Open'd) and import it into the k8s.io namespace with
//     client.Import(ctx, r, WithAllPlatforms(true), WithSkipMissing());
//  2. labelImages: pin every imported image (both labels);
//  3. retagImages: for every imported image parse its name as a tagged
//     reference (parseNamedTagged) and create <name.Name()>@<target
//     digest> with the image's labels (forceCreateTag);
//  4. labelContent: label the content of each tagged image with its
//     distribution source (containerd.io/distribution.source.<registry>),
//     which the embedded registry (Spegel) serves from.
//
// As in K3s, an error in step 3 is collected and returned after all
// images are tried, and step 4 then does not run: K3s logs "failed to
// retag images" and its watcher records nothing in .cache.json.
func k3sPreloadDouble(ctx context.Context, client *containerd.Client, path string) ([]images.Image, error) {
	ctx = namespaces.WithNamespace(ctx, k8sNamespace)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := client.Import(ctx, f, containerd.WithAllPlatforms(true), containerd.WithSkipMissing())
	if err != nil {
		return nil, fmt.Errorf("failed to import images from %s: %w", path, err)
	}
	if err := k3sLabelImages(ctx, client, imgs); err != nil {
		return imgs, fmt.Errorf("failed to add pinned label to images: %w", err)
	}
	if err := k3sRetagImages(ctx, client, imgs); err != nil {
		return imgs, fmt.Errorf("failed to retag images: %w", err)
	}
	if err := k3sLabelContent(ctx, client, imgs); err != nil {
		return imgs, fmt.Errorf("failed to add source labels to layer content: %w", err)
	}
	return imgs, nil
}

// k3sLabelImages follows labelImages: both pinned labels on every image,
// and the updated image replaces the imported one in imgs.
func k3sLabelImages(ctx context.Context, client *containerd.Client, imgs []images.Image) error {
	var errs []error
	is := client.ImageService()
	for i, img := range imgs {
		if img.Labels[k3sPinnedLabel] == pinnedValue && img.Labels[criPinnedLabel] == pinnedValue {
			continue
		}
		if img.Labels == nil {
			img.Labels = map[string]string{}
		}
		img.Labels[k3sPinnedLabel] = pinnedValue
		img.Labels[criPinnedLabel] = pinnedValue
		updated, err := is.Update(ctx, img, "labels")
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to add labels to image %s: %w", img.Name, err))
			continue
		}
		imgs[i] = updated
	}
	return errors.Join(errs...)
}

// k3sParseNamedTagged follows parseNamedTagged.
func k3sParseNamedTagged(name string) (docker.NamedTagged, error) {
	ref, err := docker.ParseNormalizedNamed(name)
	if err != nil {
		return nil, err
	}
	tagged, ok := ref.(docker.NamedTagged)
	if !ok {
		return nil, fmt.Errorf("can't cast %T to NamedTagged", ref)
	}
	return tagged, nil
}

// k3sRetagImages follows retagImages and forceCreateTag: the new name is
// created, or deleted and created again if it exists.
func k3sRetagImages(ctx context.Context, client *containerd.Client, imgs []images.Image) error {
	var errs []error
	is := client.ImageService()
	for _, img := range imgs {
		name, err := k3sParseNamedTagged(img.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to parse tag for image %s: %w", img.Name, err))
			continue
		}
		byDigest := fmt.Sprintf("%s@%s", name.Name(), img.Target.Digest)
		if byDigest == img.Name {
			continue
		}
		tag := img
		tag.Name = byDigest
		if _, err := is.Create(ctx, tag); err != nil {
			if !errdefs.IsAlreadyExists(err) {
				errs = append(errs, fmt.Errorf("failed to tag image %s: %w", byDigest, err))
				continue
			}
			if err := is.Delete(ctx, byDigest); err != nil {
				errs = append(errs, fmt.Errorf("failed to delete existing image %s: %w", byDigest, err))
				continue
			}
			if _, err := is.Create(ctx, tag); err != nil {
				errs = append(errs, fmt.Errorf("failed to tag after deleting existing image %s: %w", byDigest, err))
			}
		}
	}
	return errors.Join(errs...)
}

// k3sLabelContent follows labelContent and getDigests: every blob of
// each image (index, manifests, configs, layers) that is present gets
// containerd.io/distribution.source.<registry> = <repository path>.
func k3sLabelContent(ctx context.Context, client *containerd.Client, imgs []images.Image) error {
	var errs []error
	cs := client.ContentStore()
	for _, img := range imgs {
		name, err := k3sParseNamedTagged(img.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to parse tags for image %s: %w", img.Name, err))
			continue
		}
		digests, err := k3sGetDigests(ctx, cs, img.Target)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to get content digests for image %s: %w", img.Name, err))
			continue
		}
		key := labels.LabelDistributionSource + "." + docker.Domain(name)
		for _, d := range digests {
			info := content.Info{Digest: d, Labels: map[string]string{key: docker.Path(name)}}
			if _, err := cs.Update(ctx, info, "labels."+key); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("failed to add source labels to content with digest %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// k3sGetDigests follows getDigests: the descriptor's digest and, for a
// manifest, its config and layers, for an index each manifest's; content
// that is absent (WithSkipMissing) yields nothing.
func k3sGetDigests(ctx context.Context, cs content.Store, desc ocispec.Descriptor) ([]digest.Digest, error) {
	b, err := content.ReadBlob(ctx, cs, desc)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	digests := []digest.Digest{desc.Digest}
	switch {
	case images.IsManifestType(desc.MediaType):
		var m ocispec.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		digests = append(digests, m.Config.Digest)
		for _, l := range m.Layers {
			digests = append(digests, l.Digest)
		}
	case images.IsIndexType(desc.MediaType):
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, err
		}
		for _, m := range idx.Manifests {
			ds, err := k3sGetDigests(ctx, cs, m)
			if err != nil {
				return nil, err
			}
			digests = append(digests, ds...)
		}
	}
	return digests, nil
}

// k3sClearLabelsDouble follows clearLabels, which PreloadImages runs at
// every K3s start before importing anything: every image K3s pinned loses
// both pinned labels.
func k3sClearLabelsDouble(ctx context.Context, client *containerd.Client) error {
	ctx = namespaces.WithNamespace(ctx, k8sNamespace)
	is := client.ImageService()
	imgs, err := is.List(ctx, fmt.Sprintf("labels.%q==%s", k3sPinnedLabel, pinnedValue))
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range imgs {
		delete(img.Labels, k3sPinnedLabel)
		delete(img.Labels, criPinnedLabel)
		if _, err := is.Update(ctx, img, "labels"); err != nil {
			errs = append(errs, fmt.Errorf("failed to delete labels from image %s: %w", img.Name, err))
		}
	}
	return errors.Join(errs...)
}
