package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ParseDigest accepts "sha256:<hex>" or a bare 64-digit hex sha256.
func ParseDigest(s string) (v1.Hash, error) {
	if !strings.HasPrefix(s, "sha256:") {
		s = "sha256:" + s
	}
	h, err := v1.NewHash(s)
	if err != nil {
		return v1.Hash{}, err
	}
	if len(h.Hex) != 64 || strings.ToLower(h.Hex) != h.Hex {
		return v1.Hash{}, fmt.Errorf("%q is not a lowercase 64-digit sha256", s)
	}
	return h, nil
}

// URL returns the content of an HTTP(S) URL whose sha256 is known,
// downloading it on a miss. A corrupt entry is removed and fetched again.
func (c *Cache) URL(ctx context.Context, url, sha256 string) (*Blob, error) {
	want, err := ParseDigest(sha256)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: sha256: %w", url, err)
	}
	b, err := c.lookup(want)
	switch {
	case b != nil:
		return b, nil
	case err != nil && !errors.Is(err, errCorrupt):
		return nil, err
	case c.opts.Offline && err != nil:
		return nil, fmt.Errorf("offline: %s (%s) is not in the cache: %w", url, want, err)
	case c.opts.Offline:
		return nil, fmt.Errorf("offline: %s (%s) is not in the cache", url, want)
	}
	return c.download(ctx, url, want, 0)
}

// download fetches url with bounded retries on transient errors, checking
// the content against want when set and its length against maxBytes when
// positive.
func (c *Cache) download(ctx context.Context, url string, want v1.Hash, maxBytes int64) (*Blob, error) {
	wait := c.opts.Backoff
	for attempt := 1; ; attempt++ {
		c.log.Info("fetch", "url", url, "attempt", attempt)
		b, err := c.downloadOnce(ctx, url, want, maxBytes)
		if err == nil {
			return b, nil
		}
		var mismatch *MismatchError
		var tooLarge *tooLargeError
		switch {
		case errors.As(err, &mismatch) || errors.As(err, &tooLarge):
			return nil, fmt.Errorf("fetch %s: %w", url, err)
		case !transient(err) || attempt >= c.opts.Attempts:
			return nil, fmt.Errorf("fetch %s (%d attempts): %w", url, attempt, err)
		}
		c.log.Warn("fetch failed, retrying", "url", url, "error", err.Error(), "wait", wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fetch %s: %w", url, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// statusError is an HTTP response other than 200.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
}

func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusRequestTimeout
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func (c *Cache) downloadOnce(ctx context.Context, url string, want v1.Hash, maxBytes int64) (*Blob, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &statusError{resp.StatusCode}
	}
	task := c.opts.Progress.Task("fetch "+path.Base(url), 1, max(resp.ContentLength, 0))
	var body io.Reader = task.Reader(resp.Body)
	if maxBytes > 0 {
		body = &limitReader{r: body, max: maxBytes}
	}
	b, err := c.store(body, want)
	if err == nil {
		task.Add(1, 0)
	}
	task.Done(err)
	return b, err
}

// limitReader fails a read that takes the content past max bytes.
type limitReader struct {
	r      io.Reader
	n, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.n += int64(n); l.n > l.max {
		return n, &tooLargeError{max: l.max}
	}
	return n, err
}

type tooLargeError struct{ max int64 }

func (e *tooLargeError) Error() string { return fmt.Sprintf("larger than %d bytes", e.max) }
