package k3s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/builder/atomicfile"
)

// A release's checksum file has no digest to fetch it by (it is where the
// digests come from), so the cache's URL fetch, which needs one, cannot hold
// it. Fetch keeps each checksum file it downloaded in a record under
// FetchOptions.RecordDir instead: one JSON file per URL, named by the URL's
// sha256, holding the URL, the content and its sha256. A record is checked
// when read (content against digest, URL against the one asked for), so a
// damaged record is fetched again, or, offline, reported.

// checksumRecord is one recorded checksum file.
type checksumRecord struct {
	URL     string `json:"url"`
	SHA256  string `json:"sha256"`
	Content string `json:"content"`
}

func recordPath(dir, url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(dir, "checksums-"+hex.EncodeToString(h[:])+".json")
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// readRecord returns the recorded content for url; (nil, nil) when there is
// no record.
func readRecord(dir, url string) ([]byte, error) {
	raw, err := os.ReadFile(recordPath(dir, url))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec checksumRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("record %s: %w", recordPath(dir, url), err)
	}
	if rec.URL != url {
		return nil, fmt.Errorf("record %s is for %s", recordPath(dir, url), rec.URL)
	}
	if got := sha256Hex([]byte(rec.Content)); got != rec.SHA256 {
		return nil, fmt.Errorf("record %s: content is sha256:%s, record says sha256:%s", recordPath(dir, url), got, rec.SHA256)
	}
	return []byte(rec.Content), nil
}

// writeRecord stores content for url, through a temp file renamed into place.
func writeRecord(dir, url string, content []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(checksumRecord{URL: url, SHA256: sha256Hex(content), Content: string(content)}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(recordPath(dir, url), append(raw, '\n'), 0o644)
}

// maxChecksumFile bounds the checksum file read into memory (the real one
// is a few hundred bytes).
const maxChecksumFile = 1 << 20

// checksumFile returns the checksum file at url: from its record, or
// downloaded (and recorded) when there is none.
func (f *fetcher) checksumFile(ctx context.Context, url string) ([]byte, error) {
	data, err := readRecord(f.opts.RecordDir, url)
	switch {
	case data != nil:
		return data, nil
	case err != nil && f.opts.Offline:
		return nil, fmt.Errorf("offline: %s is not usable from the cache: %w", url, err)
	case err != nil:
		f.log.Warn("ignoring damaged checksum record", "url", url, "error", err.Error())
	case f.opts.Offline:
		return nil, fmt.Errorf("offline: %s is not in the cache (no record in %s)", url, f.opts.RecordDir)
	}
	data, err = f.download(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := writeRecord(f.opts.RecordDir, url, data); err != nil {
		return nil, fmt.Errorf("record %s: %w", url, err)
	}
	return data, nil
}

// download GETs url with the cache's retry rules: network errors, HTTP 5xx,
// 408 and 429 are retried up to Attempts times with doubling waits.
func (f *fetcher) download(ctx context.Context, url string) ([]byte, error) {
	wait := f.opts.Backoff
	for attempt := 1; ; attempt++ {
		f.log.Info("fetch", "url", url, "attempt", attempt)
		data, retry, err := f.get(ctx, url)
		if err == nil {
			return data, nil
		}
		if !retry || attempt >= f.opts.Attempts {
			return nil, fmt.Errorf("fetch %s (%d attempts): %w", url, attempt, err)
		}
		f.log.Warn("fetch failed, retrying", "url", url, "error", err.Error(), "wait", wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fetch %s: %w", url, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// get makes one request, saying whether a failure is worth retrying.
func (f *fetcher) get(ctx context.Context, url string) (data []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := f.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		c := resp.StatusCode
		return nil, c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout,
			fmt.Errorf("HTTP %d %s", c, http.StatusText(c))
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxChecksumFile+1))
	if err != nil {
		return nil, ctx.Err() == nil, err
	}
	if len(data) > maxChecksumFile {
		return nil, false, fmt.Errorf("larger than %d bytes: not a checksum file", maxChecksumFile)
	}
	return data, false, nil
}
