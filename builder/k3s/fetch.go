package k3s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/site"
)

// FetchOptions configures Fetch.
type FetchOptions struct {
	// RecordDir keeps the checksum files Fetch downloaded, so a rebuild
	// (and an offline one) needs no request for them; the build passes a
	// directory inside its cache directory. Required for a download.
	RecordDir string
	// Offline forbids network access: a checksum file must be recorded and
	// the assets cached. (The cache enforces its own Offline for assets.)
	Offline bool
	// ChecksumsSHA256, when set (from a lock file), is the digest the
	// checksum file must have, "sha256:<hex>" or bare hex.
	ChecksumsSHA256 string
	// HTTPClient fetches the checksum file; http.DefaultClient when nil.
	// Pass the cache's client so both use the same transport.
	HTTPClient *http.Client
	// Attempts bounds tries on transient errors (4 when 0); Backoff is the
	// first wait, doubled each time (1s when 0): the cache's rules.
	Attempts int
	Backoff  time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

type fetcher struct {
	opts FetchOptions
	log  *slog.Logger
}

// Fetch resolves the site's K3s section to a verified Release: local files
// hashed in place, or the release downloaded through c. The checksum file
// comes first; each asset is then fetched by the digest it lists, so a
// mismatch fails naming the asset, its URL and both digests.
func Fetch(ctx context.Context, c *cache.Cache, cfg site.K3s, opts FetchOptions) (Release, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	f := &fetcher{opts: opts, log: opts.Logger}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case !cfg.Enabled():
		return Release{}, errors.New("k3s: the site has no k3s section")
	case cfg.Local():
		return local(c, cfg)
	}
	return f.release(ctx, c, cfg)
}

// local takes a binary and airgap archive from the build host.
func local(c *cache.Cache, cfg site.K3s) (Release, error) {
	ext := site.K3sArchiveExtension(cfg.Airgap)
	if ext == "" {
		return Release{}, fmt.Errorf("k3s airgap %s: not a name K3s imports", cfg.Airgap)
	}
	bin, err := c.File(cfg.Binary)
	if err != nil {
		return Release{}, fmt.Errorf("k3s binary: %w", err)
	}
	airgap, err := c.File(cfg.Airgap)
	if err != nil {
		return Release{}, fmt.Errorf("k3s airgap images: %w", err)
	}
	return Release{
		Binary: bin, Airgap: airgap, AirgapName: "k3s-airgap-images-amd64" + ext,
		BinarySource: cfg.Binary, AirgapSource: cfg.Airgap,
	}, nil
}

// release downloads and verifies cfg.Version's assets.
func (f *fetcher) release(ctx context.Context, c *cache.Cache, cfg site.K3s) (Release, error) {
	if f.opts.RecordDir == "" {
		return Release{}, errors.New("k3s: FetchOptions.RecordDir is required to download a release")
	}
	mirror := cfg.Mirror
	if mirror == "" {
		mirror = site.DefaultK3sMirror
	}
	sumsURL := AssetURL(mirror, cfg.Version, ChecksumsAsset)
	data, err := f.checksumFile(ctx, sumsURL)
	if err != nil {
		return Release{}, fmt.Errorf("k3s %s: checksums: %w", cfg.Version, err)
	}
	digest := "sha256:" + sha256Hex(data)
	if f.opts.ChecksumsSHA256 != "" {
		pin, err := cache.ParseDigest(f.opts.ChecksumsSHA256)
		if err != nil {
			return Release{}, fmt.Errorf("k3s %s: pinned checksums digest: %w", cfg.Version, err)
		}
		if pin.String() != digest {
			return Release{}, fmt.Errorf("k3s %s: %s is %s, the lock pins %s", cfg.Version, sumsURL, digest, pin)
		}
	}
	sums, err := parseChecksums(data)
	if err != nil {
		return Release{}, fmt.Errorf("k3s %s: %s: %w", cfg.Version, sumsURL, err)
	}
	rel := Release{
		Version: cfg.Version, AirgapName: AirgapAsset,
		ChecksumsDigest: digest, ChecksumsSize: int64(len(data)), ChecksumsSource: sumsURL,
	}
	for _, a := range []struct {
		name   string
		blob   **cache.Blob
		source *string
	}{{BinaryAsset, &rel.Binary, &rel.BinarySource}, {AirgapAsset, &rel.Airgap, &rel.AirgapSource}} {
		sum, ok := sums[a.name]
		if !ok {
			return Release{}, fmt.Errorf("k3s %s: asset %s is not listed in %s", cfg.Version, a.name, sumsURL)
		}
		u := AssetURL(mirror, cfg.Version, a.name)
		b, err := c.URL(ctx, u, sum)
		if err != nil {
			return Release{}, fmt.Errorf("k3s %s: asset %s: %w", cfg.Version, a.name, err)
		}
		*a.blob, *a.source = b, u
	}
	return rel, nil
}
