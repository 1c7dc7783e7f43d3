package bootinit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Netboot: the OS image is a squashfs served over HTTP next to the iPXE
// boot script of a PXE bundle (appliance.os=url:os.squashfs with
// appliance.os.base=<the script's URL>, or an absolute url:http://...).
// The init brings up the network with DHCP, downloads the image into a
// tmpfs (never into the initramfs itself), checks its SHA-256 against
// appliance.os.sha256, retrying a failed or corrupt download, and then
// loop-mounts it as live.go does. State lives in RAM unless
// appliance.state names a device.

// NetbootSource is where a netbooting node downloads its OS image.
type NetbootSource struct {
	// URL is absolute (relative references resolved against the base).
	URL string
	// SHA256 is the image's digest, 64 lower-case hex digits.
	SHA256 string
}

// ParseNetbootSource parses appliance.os=url:<URL>, resolving a relative
// URL against base (appliance.os.base), with the digest from
// appliance.os.sha256, which is required: the init never boots an image it
// could not verify.
func ParseNetbootSource(osArg, base, digest string) (*NetbootSource, error) {
	raw, _ := strings.CutPrefix(osArg, bootparam.URLSourceKey+":")
	ref, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil, fmt.Errorf("%q: want url:<http URL of the OS image>", osArg)
	}
	if !ref.IsAbs() {
		if base == "" {
			return nil, fmt.Errorf("%q is relative and there is no %s= to resolve it against", osArg, bootparam.ArgOSBase)
		}
		b, err := url.Parse(base)
		if err != nil || !b.IsAbs() {
			return nil, fmt.Errorf("%s=%q: not an absolute URL", bootparam.ArgOSBase, base)
		}
		ref = b.ResolveReference(ref)
	}
	if ref.Scheme != "http" && ref.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme %q: want http or https", osArg, ref.Scheme)
	}
	digest = strings.ToLower(digest)
	if len(digest) != sha256.Size*2 || strings.Trim(digest, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%s: want 64 hex digits with url:, got %q", bootparam.ArgOSSHA256, digest)
	}
	return &NetbootSource{URL: ref.String(), SHA256: digest}, nil
}

// FetchOptions configures FetchVerified.
type FetchOptions struct {
	Source NetbootSource
	// Dest is the file the image is written to (replaced on each attempt).
	Dest string
	// Attempts is how many downloads to try before giving up (default 10).
	Attempts int
	// Backoff is the wait after a failed attempt; it doubles up to 30 s
	// (default 1 s).
	Backoff time.Duration
	// Client makes the requests (default: a client with no overall timeout,
	// the image may take minutes, but a 30 s response header timeout).
	Client *http.Client
	// Log gets one line per attempt and failure.
	Log *log.Logger
}

// ErrDigestMismatch is wrapped by the error of a download whose SHA-256
// is not the expected one.
var ErrDigestMismatch = errors.New("SHA-256 mismatch")

// FetchVerified downloads the OS image to opts.Dest and checks its digest,
// retrying truncated downloads, HTTP errors and digest mismatches. On
// failure Dest does not exist: a bad image is never left to boot.
func FetchVerified(ctx context.Context, opts FetchOptions) (int64, error) {
	if opts.Attempts <= 0 {
		opts.Attempts = 10
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 30 * time.Second}}
	}
	if opts.Log == nil {
		opts.Log = log.New(io.Discard, "", 0)
	}
	wait := opts.Backoff
	var lastErr error
	for n := 1; n <= opts.Attempts; n++ {
		opts.Log.Printf("GET %s (attempt %d/%d)", opts.Source.URL, n, opts.Attempts)
		size, err := fetchOnce(ctx, opts)
		if err == nil {
			opts.Log.Printf("OS image: %d bytes, sha256 %s verified", size, opts.Source.SHA256)
			return size, nil
		}
		lastErr = err
		if rmErr := os.Remove(opts.Dest); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			return 0, errors.Join(err, rmErr)
		}
		if n == opts.Attempts {
			break
		}
		opts.Log.Printf("GET %s failed: %v; retry %d/%d in %s", opts.Source.URL, err, n+1, opts.Attempts, wait)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("GET %s: %w (after: %v)", opts.Source.URL, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
	return 0, fmt.Errorf("GET %s: gave up after %d attempts: %w", opts.Source.URL, opts.Attempts, lastErr)
}

// fetchOnce makes one download into opts.Dest and verifies it.
func fetchOnce(ctx context.Context, opts FetchOptions) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.Source.URL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	f, err := os.OpenFile(opts.Dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o444)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, copyErr := io.Copy(io.MultiWriter(f, h), resp.Body)
	if err := errors.Join(copyErr, f.Close()); err != nil {
		if errors.Is(copyErr, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("truncated: %d of %d bytes: %w", n, resp.ContentLength, err)
		}
		return n, fmt.Errorf("after %d bytes: %w", n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("truncated: %d of %d bytes", n, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != opts.Source.SHA256 {
		return n, fmt.Errorf("%w: got %s, want %s (%d bytes)", ErrDigestMismatch, got, opts.Source.SHA256, n)
	}
	return n, nil
}

// netbootMount is the tmpfs the downloaded OS image lives in; it moves
// into the booted system with /run.
const netbootMount = "/run/appliance/netboot"

// netbootOSImage brings up the network, downloads and verifies the OS
// image into RAM and attaches it to a loop device, whose node it returns.
func netbootOSImage(ctx context.Context, lg *log.Logger, src NetbootSource) (string, error) {
	if err := bringUpNetwork(ctx, lg, "/sys/class/net"); err != nil {
		return "", fmt.Errorf("netboot: %w", err)
	}
	if err := mountTmpfs(netbootMount, "mode=0755,size=90%"); err != nil {
		return "", fmt.Errorf("netboot: %w", err)
	}
	dest := filepath.Join(netbootMount, bootparam.PXEOSImage)
	if _, err := FetchVerified(ctx, FetchOptions{Source: src, Dest: dest, Log: lg}); err != nil {
		return "", fmt.Errorf("netboot: %w", err)
	}
	return AttachLoop(dest, "/dev")
}
