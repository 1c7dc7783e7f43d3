// Package charts owns Helm charts for the payload: pulling a pinned chart
// from an HTTP chart repository or an OCI registry into the build cache with
// its archive digest verified (a chart the lock pins and the cache holds is
// taken from the cache with no network request), rendering it (subcharts
// and hooks included) against the target K3s Kubernetes version and API
// versions, and discovering every container image the rendered chart
// references.
package charts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/cache"
)

// Store is the part of the build cache charts need (builder/cache.Cache).
type Store interface {
	URL(ctx context.Context, url, sha256 string) (*cache.Blob, error)
	Image(ctx context.Context, ref string) (*cache.Image, error)
	// Blob returns the cached content of digest d with no network request;
	// a miss is an error wrapping cache.ErrNotCached.
	Blob(d v1.Hash) (*cache.Blob, error)
	// Current fetches content that changes (index.yaml) online and returns
	// the last fetched offline.
	Current(ctx context.Context, url string, maxBytes int64) (*cache.Blob, error)
}

// Source names one pinned chart.
type Source struct {
	// Repo is an HTTP(S) chart repository URL (serving index.yaml) or an
	// OCI location "oci://host/path" (the chart is host/path/Name:Version).
	Repo string
	// Name and Version pick the chart; Version must match exactly.
	Name    string
	Version string
	// Digest, when set, is the digest the chart archive (.tgz) must have,
	// "sha256:<hex>", from a lock; for an OCI chart that is its chart
	// layer's digest. A chart whose archive the cache holds is then taken
	// from there with no request to Repo.
	Digest string
}

// PullOptions configures Pull.
type PullOptions struct {
	// Store fetches index.yaml and holds the pulled .tgz (verified by
	// digest).
	Store Store
}

// Pulled is a chart held in the cache.
type Pulled struct {
	// Path is the chart .tgz in the cache.
	Path string
	// SHA256 is the .tgz's digest ("sha256:<hex>"), Size its length.
	SHA256 string
	Size   int64
	// ManifestDigest is the OCI manifest digest, for information; empty
	// for HTTP repos and for a chart taken from the cache by Source.Digest.
	ManifestDigest string
	// Name and Version are read from the chart's Chart.yaml.
	Name    string
	Version string
	// Chart is the loaded chart, subcharts included.
	Chart *chart.Chart
}

// helmChartLayer is the media type of a chart's .tgz in an OCI artifact.
const helmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// Pull fetches src into the cache, verifies its digest and loads it. When
// src.Digest is set and the cache holds that archive, no request is made
// (no index.yaml, no registry); the archive must still hold src's chart
// name and version.
func Pull(ctx context.Context, src Source, opts PullOptions) (*Pulled, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("chart %s %s: PullOptions.Store is required", src.Name, src.Version)
	}
	var p *Pulled
	if src.Digest != "" {
		d, err := cache.ParseDigest(src.Digest)
		if err != nil {
			return nil, fmt.Errorf("chart %s %s: lock digest: %w", src.Name, src.Version, err)
		}
		src.Digest = d.String()
		if p, err = fromStore(opts.Store, d); err != nil {
			return nil, fmt.Errorf("chart %s %s: %w", src.Name, src.Version, err)
		}
	}
	cached := p != nil
	var err error
	switch {
	case cached:
	case strings.HasPrefix(src.Repo, "oci://"):
		p, err = pullOCI(ctx, src, opts)
	default:
		p, err = pullHTTP(ctx, src, opts)
	}
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(p.Path)
	switch {
	case err != nil && cached:
		// The cache holds every blob by digest, manifests and configs too.
		return nil, fmt.Errorf("chart %s %s: the lock pins %s, which in the cache is not a chart archive: %w",
			src.Name, src.Version, src.Digest, err)
	case err != nil:
		return nil, fmt.Errorf("chart %s %s from %s: load %s: %w", src.Name, src.Version, src.Repo, p.Path, err)
	}
	if ch.Metadata.Name != src.Name || ch.Metadata.Version != src.Version {
		from := src.Repo
		if cached {
			from = "the cache (" + src.Digest + ")"
		}
		return nil, fmt.Errorf("chart %s %s from %s: archive holds %s %s",
			src.Name, src.Version, from, ch.Metadata.Name, ch.Metadata.Version)
	}
	p.Chart, p.Name, p.Version = ch, ch.Metadata.Name, ch.Metadata.Version
	return p, nil
}

// fromStore returns the archive d when the store holds it, nil when it
// does not.
func fromStore(store Store, d v1.Hash) (*Pulled, error) {
	b, err := store.Blob(d)
	switch {
	case errors.Is(err, cache.ErrNotCached):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return pulledFrom(b), nil
}

func pullHTTP(ctx context.Context, src Source, opts PullOptions) (*Pulled, error) {
	indexURL := strings.TrimSuffix(src.Repo, "/") + "/index.yaml"
	idx, err := fetchIndex(ctx, opts.Store, indexURL)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", src.Name, src.Version, err)
	}
	cv, err := findVersion(idx, src, indexURL)
	if err != nil {
		return nil, err
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("chart %s %s: %s lists no URL for it", src.Name, src.Version, indexURL)
	}
	if cv.Digest == "" {
		return nil, fmt.Errorf("chart %s %s: %s gives no digest for it", src.Name, src.Version, indexURL)
	}
	want := "sha256:" + strings.TrimPrefix(cv.Digest, "sha256:")
	if src.Digest != "" && src.Digest != want {
		return nil, fmt.Errorf("chart %s %s: %s gives digest %s, the lock expects %s",
			src.Name, src.Version, indexURL, want, src.Digest)
	}
	u, err := repo.ResolveReferenceURL(src.Repo, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: URL %q: %w", src.Name, src.Version, cv.URLs[0], err)
	}
	b, err := opts.Store.URL(ctx, u, want)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", src.Name, src.Version, err)
	}
	return pulledFrom(b), nil
}

// maxIndex bounds a chart repository's index.yaml (large public ones are
// tens of MB).
const maxIndex = 256 << 20

// fetchIndex reads a repository's index.yaml through the store: fetched
// afresh online, the last one fetched offline.
func fetchIndex(ctx context.Context, store Store, url string) (*repo.IndexFile, error) {
	b, err := store.Current(ctx, url, maxIndex)
	if err != nil {
		return nil, err
	}
	r, err := b.Open()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	defer r.Close()
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	idx := &repo.IndexFile{}
	if err := yaml.Unmarshal(raw, idx); err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return idx, nil
}

// findVersion picks the exact version (no semver ranges: versions are pinned).
func findVersion(idx *repo.IndexFile, src Source, indexURL string) (*repo.ChartVersion, error) {
	vs, ok := idx.Entries[src.Name]
	if !ok {
		return nil, fmt.Errorf("chart %s not found in %s", src.Name, indexURL)
	}
	var have []string
	for _, cv := range vs {
		if cv == nil || cv.Metadata == nil {
			continue
		}
		if cv.Version == src.Version {
			return cv, nil
		}
		have = append(have, cv.Version)
	}
	slices.Sort(have)
	return nil, fmt.Errorf("chart %s version %s not found in %s (it has %s)",
		src.Name, src.Version, indexURL, strings.Join(have, ", "))
}

func pullOCI(ctx context.Context, src Source, opts PullOptions) (*Pulled, error) {
	ref := strings.TrimSuffix(strings.TrimPrefix(src.Repo, "oci://"), "/") + "/" + src.Name + ":" + src.Version
	img, err := opts.Store.Image(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", src.Name, src.Version, err)
	}
	m, err := img.Image.Manifest()
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: manifest %s: %w", src.Name, src.Version, img.Digest, err)
	}
	var layer *v1.Descriptor
	for i := range m.Layers {
		if string(m.Layers[i].MediaType) == helmChartLayer {
			layer = &m.Layers[i]
			break
		}
	}
	if layer == nil {
		return nil, fmt.Errorf("chart %s %s: %s (%s) has no %s layer", src.Name, src.Version, ref, img.Digest, helmChartLayer)
	}
	if src.Digest != "" && src.Digest != layer.Digest.String() {
		return nil, fmt.Errorf("chart %s %s: %s (manifest %s) holds archive %s, the lock expects %s",
			src.Name, src.Version, ref, img.Digest, layer.Digest, src.Digest)
	}
	// Image stored and verified the layers: the archive is read from the
	// cache, never from a hand-made registry URL (registries want tokens).
	b, err := opts.Store.Blob(layer.Digest)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %s (manifest %s): layer: %w", src.Name, src.Version, ref, img.Digest, err)
	}
	p := pulledFrom(b)
	p.ManifestDigest = img.Digest.String()
	return p, nil
}

// pulledFrom describes the chart archive b.
func pulledFrom(b *cache.Blob) *Pulled {
	return &Pulled{Path: b.Path(), SHA256: b.Digest().String(), Size: b.Size()}
}
