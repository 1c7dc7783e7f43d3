package cache

import (
	"context"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// urlRecord remembers the digest of an unpinned URL's content.
type urlRecord struct {
	URL    string `json:"url"`
	Digest string `json:"digest"`
}

// Unpinned returns the content of a URL whose digest is not known in
// advance, such as a release's checksum file (where the digests come from),
// failing when it is longer than maxBytes. The first download, made with
// URL's retry rules, is stored by its digest and recorded against url; from
// then on, online or offline, the recorded content is returned (verified)
// without a request. Online, a damaged record or a missing or corrupt entry
// is downloaded again; offline it is an error.
func (c *Cache) Unpinned(ctx context.Context, url string, maxBytes int64) (*Blob, error) {
	b, d, err := c.recorded(url)
	switch {
	case b != nil:
		return b, nil
	case err != nil && !errors.Is(err, errCorrupt) && !errors.Is(err, errBadRecord):
		return nil, err
	case c.opts.Offline && d.Hex != "" && err != nil:
		return nil, fmt.Errorf("offline: %s (%s) is not in the cache: %w", url, d, err)
	case c.opts.Offline && d.Hex != "":
		return nil, fmt.Errorf("offline: %s (%s) is not in the cache", url, d)
	case c.opts.Offline && err != nil:
		return nil, fmt.Errorf("offline: %s is not in the cache: %w", url, err)
	case c.opts.Offline:
		return nil, fmt.Errorf("offline: %s is not in the cache", url)
	case errors.Is(err, errBadRecord):
		c.log.Warn("ignoring damaged record", "url", url, "error", err.Error())
	}
	b, err = c.downloadAndRecord(ctx, url, maxBytes)
	if err != nil {
		return nil, err
	}
	if d.Hex != "" && d != b.digest {
		c.log.Warn("content changed since recorded", "url", url, "recorded", d.String(), "now", b.digest.String())
	}
	return b, nil
}

// Current returns the content of a URL that changes over time, such as a
// chart repository's index.yaml: online it is downloaded every time (with
// URL's retry rules, failing past maxBytes) and recorded against url as
// Unpinned records it; offline the recorded content is returned, so a
// build that ran online once can run offline.
func (c *Cache) Current(ctx context.Context, url string, maxBytes int64) (*Blob, error) {
	if c.opts.Offline {
		return c.Unpinned(ctx, url, maxBytes)
	}
	return c.downloadAndRecord(ctx, url, maxBytes)
}

// downloadAndRecord downloads url and records its digest for offline use.
func (c *Cache) downloadAndRecord(ctx context.Context, url string, maxBytes int64) (*Blob, error) {
	b, err := c.download(ctx, url, v1.Hash{}, maxBytes)
	if err != nil {
		return nil, err
	}
	if err := writeRecord(c.urlPath(url), urlRecord{URL: url, Digest: b.digest.String()}); err != nil {
		return nil, fmt.Errorf("record %s: %w", url, err)
	}
	return b, nil
}

// errBadRecord marks a record that cannot be used.
var errBadRecord = errors.New("damaged record")

// recorded returns the entry recorded for url and its digest: (nil, zero,
// nil) when there is no record, (nil, d, nil) when entry d is missing, and
// an errBadRecord or errCorrupt error when the record or entry is damaged.
func (c *Cache) recorded(url string) (*Blob, v1.Hash, error) {
	p := c.urlPath(url)
	var rec urlRecord
	err := readRecord(p, &rec)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, v1.Hash{}, nil
	case err != nil:
		return nil, v1.Hash{}, fmt.Errorf("%w %w", errBadRecord, err)
	case rec.URL != url:
		return nil, v1.Hash{}, fmt.Errorf("%w %s: records %q, not %q", errBadRecord, p, rec.URL, url)
	}
	d, err := ParseDigest(rec.Digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("%w %s: digest: %w", errBadRecord, p, err)
	}
	b, err := c.lookup(d)
	return b, d, err
}
