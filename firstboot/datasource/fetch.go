package datasource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/nocloud"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// errTooLarge is the error of a document over MaxDocumentBytes.
var errTooLarge = fmt.Errorf("larger than the %d byte (1 MiB) limit for one document", MaxDocumentBytes)

// fetcher reads documents from files and HTTP servers.
type fetcher struct {
	opts Options
}

func newFetcher(opts Options) *fetcher {
	return &fetcher{opts: opts}
}

// noCloudSource reads the seed directory of a ds=nocloud argument, if it
// names one, and sets its h= and i= in the meta-data.
func (f *fetcher) noCloudSource(ctx context.Context, arg *noCloudArg) (Source, error) {
	src := Source{Name: "kernel command line " + arg.arg}
	if arg.seedFrom != nil {
		for _, doc := range []struct {
			name     string
			dst      *[]byte
			optional bool
		}{
			{nocloud.FileMetaData, &src.MetaData, false},
			{nocloud.FileUserData, &src.UserData, false},
			{nocloud.FileNetworkConfig, &src.NetworkConfig, true},
		} {
			data, err := f.fetch(ctx, docURL(arg.seedFrom, doc.name), doc.optional)
			if err != nil {
				return Source{}, fmt.Errorf("%s: %w", src.Name, err)
			}
			*doc.dst = data
		}
	}
	meta, err := withCmdlineMeta(src.MetaData, arg.hostname, arg.instanceID)
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", src.Name, err)
	}
	src.MetaData = meta
	return src, nil
}

// configSource reads the firstboot.config document and checks its digest.
func (f *fetcher) configSource(ctx context.Context, arg *configArg) (Source, error) {
	name := "kernel command line " + arg.arg
	data, err := f.fetch(ctx, arg.location, false)
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", name, err)
	}
	if arg.sha256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != arg.sha256 {
			return Source{}, fmt.Errorf("%s: content has sha256 %s, %s= wants %s", name, got, bootparam.ArgConfigSHA256, arg.sha256)
		}
	}
	return Source{Name: name, UserData: data}, nil
}

// docURL is the URL of the file name in the seed directory dir.
func docURL(dir *url.URL, name string) *url.URL {
	u := *dir
	u.Path += name
	if u.RawPath != "" {
		u.RawPath += name
	}
	return &u
}

// fetch reads the document at loc. An optional document that does not
// exist (no such file, HTTP 404) is nil with no error.
func (f *fetcher) fetch(ctx context.Context, loc *url.URL, optional bool) ([]byte, error) {
	if loc.Scheme == "file" {
		return f.readFile(loc.Path, optional)
	}
	return f.get(ctx, loc.String(), optional)
}

// readFile reads path of the booted system, under Root: a regular file
// (a FIFO would block) of at most MaxDocumentBytes.
func (f *fetcher) readFile(path string, optional bool) ([]byte, error) {
	data, err := smallfile.Read(filepath.Join(f.opts.Root, filepath.Clean("/"+path)), MaxDocumentBytes)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("read %s: %w", path, pe.Err)
	}
	return data, err
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDocumentBytes {
		return nil, errTooLarge
	}
	return data, nil
}

// retryable is the failure of one attempt that another attempt may mend.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }

// get requests rawURL up to Attempts times, waiting Backoff, then twice
// as long each time up to MaxBackoff, between attempts.
func (f *fetcher) get(ctx context.Context, rawURL string, optional bool) ([]byte, error) {
	retries := f.opts.Attempts - 1
	delay := min(f.opts.Backoff, MaxBackoff)
	for attempt := 1; ; attempt++ {
		data, err := f.getOnce(ctx, rawURL, optional)
		var r retryable
		if !errors.As(err, &r) {
			return data, err
		}
		if attempt > retries {
			return nil, fmt.Errorf("GET %s: %w (after %d attempts)", rawURL, r.err, attempt)
		}
		f.opts.Logf("datasource: GET %s: %v; retry %d/%d in %s", rawURL, r.err, attempt, retries, delay)
		if err := f.opts.Sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("GET %s: %w (waiting to retry after %v)", rawURL, err, r.err)
		}
		delay = min(2*delay, MaxBackoff)
	}
}

// getOnce is one attempt of get. Connection errors, 5xx, 429 and the 404
// of a required document are retryable.
func (f *fetcher) getOnce(ctx context.Context, rawURL string, optional bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", rawURL, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, retryable{err}
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		data, err := readLimited(resp.Body)
		switch {
		case errors.Is(err, errTooLarge):
			return nil, fmt.Errorf("GET %s: %w", rawURL, err)
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("GET %s: %w", rawURL, ctx.Err())
		case err != nil:
			return nil, retryable{fmt.Errorf("read body: %w", err)}
		}
		return data, nil
	case code == http.StatusNotFound && optional:
		return nil, nil
	case code == http.StatusNotFound, code == http.StatusTooManyRequests, code >= 500:
		return nil, retryable{errors.New(resp.Status)}
	default:
		return nil, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
}
