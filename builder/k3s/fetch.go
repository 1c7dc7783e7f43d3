package k3s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// FetchOptions configures Fetch.
type FetchOptions struct {
	// ChecksumsSHA256, when set (from a lock file), is the digest the
	// checksum file must have, "sha256:<hex>" or bare hex.
	ChecksumsSHA256 string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// maxChecksumFile bounds the checksum file read into memory (the real one
// is a few hundred bytes).
const maxChecksumFile = 1 << 20

// Fetch resolves the site's K3s section to a verified Release: local files
// hashed in place, or the release downloaded through c. The checksum file
// comes first: by opts.ChecksumsSHA256 when a lock pins it (a cache that
// holds it then makes no request at all), else the cache records the
// digest it downloaded first and later builds, offline too, use that. Each
// asset is then fetched by the digest it lists, so a mismatch fails naming
// the asset, its URL and both digests.
func Fetch(ctx context.Context, c *cache.Cache, cfg site.K3s, opts FetchOptions) (Release, error) {
	switch {
	case !cfg.Enabled():
		return Release{}, errors.New("k3s: the site has no k3s section")
	case cfg.Local():
		return local(c, cfg)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return release(ctx, c, cfg, opts.ChecksumsSHA256, log)
}

// local takes a binary and airgap archive from the build host.
func local(c *cache.Cache, cfg site.K3s) (Release, error) {
	ext := payload.K3sArchiveExtension(cfg.Airgap)
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

// release downloads and verifies cfg.Version's assets; pin, when set, is
// the digest the checksum file must have.
func release(ctx context.Context, c *cache.Cache, cfg site.K3s, pin string, log *slog.Logger) (Release, error) {
	mirror := cfg.Mirror
	if mirror == "" {
		mirror = site.DefaultK3sMirror
	}
	sumsURL := AssetURL(mirror, cfg.Version, ChecksumsAsset)
	blob, err := checksumFile(ctx, c, sumsURL, pin)
	if err != nil {
		return Release{}, fmt.Errorf("k3s %s: %w", cfg.Version, err)
	}
	digest := blob.Digest().String()
	log.Info("k3s release checksums", "url", sumsURL, "digest", digest)
	data, err := readBlob(blob)
	if err != nil {
		return Release{}, fmt.Errorf("k3s %s: checksums %s: %w", cfg.Version, sumsURL, err)
	}
	sums, err := parseChecksums(data)
	if err != nil {
		return Release{}, fmt.Errorf("k3s %s: %s: %w", cfg.Version, sumsURL, err)
	}
	rel := Release{
		Version: cfg.Version, AirgapName: AirgapAsset,
		ChecksumsDigest: digest, ChecksumsSize: blob.Size(), ChecksumsSource: sumsURL,
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

// checksumFile returns the release's checksum file at url. With a pin it
// is fetched by that digest, so a cache holding it makes no request; a
// download with another digest fails naming both. Without one the cache
// records the digest of the first download (Cache.Unpinned).
func checksumFile(ctx context.Context, c *cache.Cache, url, pin string) (*cache.Blob, error) {
	if pin == "" {
		b, err := c.Unpinned(ctx, url, maxChecksumFile)
		if err != nil {
			return nil, fmt.Errorf("checksums: %w", err)
		}
		return b, nil
	}
	want, err := cache.ParseDigest(pin)
	if err != nil {
		return nil, fmt.Errorf("pinned checksums digest: %w", err)
	}
	b, err := c.URL(ctx, url, want.String())
	var mismatch *cache.MismatchError
	switch {
	case errors.As(err, &mismatch):
		return nil, fmt.Errorf("%s is %s, the lock pins %s", url, mismatch.Got, want)
	case err != nil:
		return nil, fmt.Errorf("checksums: %w", err)
	}
	return b, nil
}

// readBlob reads a small blob, verified as it is read.
func readBlob(b *cache.Blob) ([]byte, error) {
	rc, err := b.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
