package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// HTTPOptions configures how a bundle is read over HTTP. A request that
// fails (no connection, a 5xx or 429 answer, a body cut short or stalled)
// is tried again after Backoff, then twice as long each time; a body cut
// short resumes where it ended with a Range request. Nothing a request
// brings is trusted: the manifest's signature and every file's sha256
// are checked by the caller.
type HTTPOptions struct {
	// Client makes the requests (default: 30 s to connect and for the
	// answer's headers, and no overall limit, since an OS image takes a
	// while; Stall catches a body that stops coming).
	Client *http.Client
	// Attempts is how many times one file is tried without progress
	// before giving up (default 4).
	Attempts int
	// Backoff is the first wait between attempts (default 1 s); it
	// doubles up to MaxBackoff.
	Backoff time.Duration
	// Stall ends a request that brings nothing for this long (default
	// 60 s), to be tried again.
	Stall time.Duration
	// Logf gets one line per retry (default: none).
	Logf func(format string, args ...any)
	// Sleep waits between attempts (default ctxsleep.Sleep).
	Sleep func(context.Context, time.Duration) error
}

// MaxBackoff bounds the wait between two attempts.
const MaxBackoff = 15 * time.Second

func (o HTTPOptions) withDefaults() HTTPOptions {
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Stall <= 0 {
		o.Stall = 60 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Sleep == nil {
		o.Sleep = ctxsleep.Sleep
	}
	return o
}

// httpSource is a bundle directory on an HTTP server (the initial
// server's, for a cluster upgrade).
type httpSource struct {
	base *url.URL
	opts HTTPOptions
}

// newHTTPSource takes the URL of the bundle directory or of its
// manifest.json.
func newHTTPSource(u *url.URL, opts HTTPOptions) *httpSource {
	base := *u
	base.RawQuery, base.Fragment, base.RawPath = "", "", ""
	base.Path = strings.TrimSuffix(base.Path, upgradebundle.ManifestFile)
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	return &httpSource{base: &base, opts: opts.withDefaults()}
}

func (h *httpSource) String() string { return h.base.Redacted() }

func (h *httpSource) Close() error { return nil }

func (h *httpSource) url(name string) string {
	return h.base.ResolveReference(&url.URL{Path: name}).String()
}

func (h *httpSource) ReadSmall(ctx context.Context, name string, max int64) ([]byte, error) {
	r, err := h.open(ctx, name, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	switch {
	case err != nil:
		return nil, err
	case int64(len(data)) > max:
		return nil, fmt.Errorf("GET %s: larger than %d bytes", h.url(name), max)
	}
	return data, nil
}

func (h *httpSource) Open(ctx context.Context, f upgradebundle.File) (io.ReadCloser, error) {
	s, err := h.open(ctx, f.Name, f.Size)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{&exactReader{r: s, f: f}, s}, nil
}

// open starts a stream of name, size bytes long (-1: as long as the
// server says).
func (h *httpSource) open(ctx context.Context, name string, size int64) (*httpStream, error) {
	s := &httpStream{h: h, ctx: ctx, name: name, url: h.url(name), size: size}
	err := s.connect()
	var r retryable
	if errors.As(err, &r) {
		err = s.resume(r.err)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// retryable is the failure of one attempt that another may mend.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }

// httpStream reads one file, resuming after a failure where it stopped.
type httpStream struct {
	h    *httpSource
	ctx  context.Context
	name string
	url  string
	// size is the file's length, -1 until known.
	size int64
	// off is how much has been read; failures counts the attempts since
	// the last progress.
	off      int64
	failures int

	body    io.ReadCloser
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled atomic.Bool
}

// connect makes one GET from s.off, watched for stalls.
func (s *httpStream) connect() error {
	ctx, cancel := context.WithCancel(s.ctx)
	s.stalled.Store(false)
	s.cancel = cancel
	s.timer = time.AfterFunc(s.h.opts.Stall, func() { s.stalled.Store(true); cancel() })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		s.disconnect()
		return fmt.Errorf("GET %s: %w", s.url, err)
	}
	if s.off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", s.off))
	}
	resp, err := s.h.opts.Client.Do(req)
	if err != nil {
		s.disconnect()
		return s.failure(err)
	}
	s.body = resp.Body
	if err := s.checkResponse(resp); err != nil {
		s.disconnect()
		return err
	}
	return nil
}

// checkResponse checks the status and length of an answer, and skips
// what was read already when a server ignored the Range header.
func (s *httpStream) checkResponse(resp *http.Response) error {
	var total int64 = -1
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		total = resp.ContentLength
		if s.off > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, s.off); err != nil {
				return s.failure(err)
			}
		}
	case code == http.StatusPartialContent && s.off > 0:
		start, t, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != s.off {
			return fmt.Errorf("GET %s: asked for bytes from %d, got Content-Range %q", s.url, s.off, resp.Header.Get("Content-Range"))
		}
		total = t
	case code == http.StatusTooManyRequests || code >= 500:
		return retryable{errors.New(resp.Status)}
	default:
		return fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	switch {
	case total < 0:
	case s.size < 0:
		s.size = total
	case total != s.size:
		return fmt.Errorf("GET %s: the server has %d bytes, the manifest says %d: %w", s.url, total, s.size, errTruncated)
	}
	return nil
}

// contentRange parses "bytes START-END/TOTAL".
func contentRange(v string) (start, total int64, ok bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, false
	}
	span, t, ok := strings.Cut(rest, "/")
	first, _, ok2 := strings.Cut(span, "-")
	start, err1 := strconv.ParseInt(first, 10, 64)
	total, err2 := strconv.ParseInt(t, 10, 64)
	return start, total, ok && ok2 && err1 == nil && err2 == nil
}

// failure classes the error of a request or a body read: the context's
// end is final, anything else is worth another attempt.
func (s *httpStream) failure(err error) error {
	if s.ctx.Err() != nil {
		return fmt.Errorf("GET %s: %w", s.url, s.ctx.Err())
	}
	if s.stalled.Load() {
		return retryable{fmt.Errorf("nothing received for %s", s.h.opts.Stall)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return retryable{err}
}

func (s *httpStream) disconnect() {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *httpStream) Close() error {
	s.disconnect()
	return nil
}

func (s *httpStream) Read(p []byte) (int, error) {
	for {
		if s.body == nil {
			return 0, fmt.Errorf("GET %s: closed", s.url)
		}
		n, err := s.body.Read(p)
		if n > 0 {
			s.off += int64(n)
			s.failures = 0
			s.timer.Reset(s.h.opts.Stall)
			return n, nil
		}
		switch {
		case err == nil:
			continue
		case err == io.EOF && (s.size < 0 || s.off >= s.size):
			return 0, io.EOF
		case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
			err = fmt.Errorf("the body ended at %d of %d bytes", s.off, s.size)
		}
		s.disconnect()
		var r retryable
		if f := s.failure(err); !errors.As(f, &r) {
			return 0, f
		}
		if err := s.resume(r.err); err != nil {
			return 0, err
		}
	}
}

// resume connects again after a failure, waiting longer each time, until
// a connection holds or Attempts have failed since the last progress.
func (s *httpStream) resume(cause error) error {
	for {
		s.failures++
		if s.failures >= s.h.opts.Attempts {
			return fmt.Errorf("GET %s: %w (after %d attempts, %d bytes received)", s.url, cause, s.failures, s.off)
		}
		delay := s.h.opts.Backoff << (s.failures - 1)
		if delay > MaxBackoff || delay <= 0 {
			delay = MaxBackoff
		}
		s.h.opts.Logf("upgrade: GET %s: %v; retry %d/%d in %s", s.url, cause, s.failures, s.h.opts.Attempts-1, delay)
		if err := s.h.opts.Sleep(s.ctx, delay); err != nil {
			return fmt.Errorf("GET %s: %w (waiting to retry after: %v)", s.url, err, cause)
		}
		err := s.connect()
		var r retryable
		if !errors.As(err, &r) {
			return err
		}
		cause = r.err
	}
}
