package upgrade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// testContent is n bytes that differ from one offset to the next, so a
// resumed download that restarts at the wrong place fails its sha256.
func testContent(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 5)
	}
	return b
}

func fileOf(name string, data []byte) upgradebundle.File {
	sum := sha256.Sum256(data)
	return upgradebundle.File{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// noWait is HTTPOptions for tests: no pause between attempts.
func noWait() HTTPOptions {
	return HTTPOptions{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
}

// cutting serves data as os.squashfs with Range support (http.ServeContent),
// but the first cuts answers send only half the body and then drop the
// connection, as a server that dies mid-transfer does. ignoreRange serves
// every request whole, as a server without Range support does.
type cutting struct {
	data        []byte
	cuts        int32
	ignoreRange bool
	requests    atomic.Int32
	ranges      atomic.Int32
}

func (c *cutting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.requests.Add(1)
	if r.Header.Get("Range") != "" {
		c.ranges.Add(1)
	}
	if r.URL.Path != "/bundle/"+upgradebundle.OSImageFile {
		http.NotFound(w, r)
		return
	}
	if n <= c.cuts {
		w.Header().Set("Content-Length", strconv.Itoa(len(c.data)))
		w.WriteHeader(http.StatusOK)
		w.Write(c.data[:len(c.data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	if c.ignoreRange {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.data))
}

func readStream(t *testing.T, src Source, f upgradebundle.File) ([]byte, error) {
	t.Helper()
	r, err := src.Open(context.Background(), f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestHTTPResumes: a body cut short is resumed with a Range request (or,
// from a server without Range support, fetched again and skipped to where
// it stopped), and the content comes out whole.
func TestHTTPResumes(t *testing.T) {
	data := testContent(3 << 20)
	for _, tc := range []struct {
		name        string
		ignoreRange bool
		wantRanges  int32
	}{{"range", false, 2}, {"no range support", true, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cutting{data: data, cuts: 2, ignoreRange: tc.ignoreRange}
			srv := httptest.NewServer(c)
			defer srv.Close()
			src, err := OpenSource(srv.URL+"/bundle/manifest.json", noWait())
			if err != nil {
				t.Fatal(err)
			}
			got, err := readStream(t, src, fileOf(upgradebundle.OSImageFile, data))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, not the content", len(got))
			}
			if c.requests.Load() != 3 || c.ranges.Load() != tc.wantRanges {
				t.Errorf("%d requests, %d with Range; want 3 and %d", c.requests.Load(), c.ranges.Load(), tc.wantRanges)
			}
		})
	}
}

// TestHTTPGivesUp: a server that cuts every answer short is given up on
// after Attempts tries, with an error that says so.
func TestHTTPGivesUp(t *testing.T) {
	data := testContent(1 << 20)
	c := &cutting{data: data, cuts: 100}
	srv := httptest.NewServer(c)
	defer srv.Close()
	opts := noWait()
	opts.Attempts = 3
	src, err := OpenSource(srv.URL+"/bundle/", opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readStream(t, src, fileOf(upgradebundle.OSImageFile, data))
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v, want one after 3 attempts", err)
	}
	// The first answer brought half; the two resumed ones nothing new.
	if c.requests.Load() != 3 {
		t.Errorf("%d requests, want 3", c.requests.Load())
	}
}

// TestHTTPRefusals: answers no retry mends are final at once, and a file
// whose length is not the manifest's is refused as a truncated bundle.
func TestHTTPRefusals(t *testing.T) {
	data := testContent(1000)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/b/" + upgradebundle.OSImageFile:
			w.Write(data)
		case "/b/" + upgradebundle.ManifestFile:
			w.Write(bytes.Repeat([]byte("x"), 100))
		case "/b/forbidden":
			http.Error(w, "no", http.StatusForbidden)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	src, err := OpenSource(srv.URL+"/b", noWait())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	short := fileOf(upgradebundle.OSImageFile, data)
	short.Size++
	for _, tc := range []struct {
		name string
		run  func() error
		want string
		is   error
	}{
		{"404", func() error { _, err := src.ReadSmall(ctx, upgradebundle.SignatureFile, 10); return err }, "404 Not Found", nil},
		{"403", func() error { _, err := src.ReadSmall(ctx, "forbidden", 10); return err }, "403 Forbidden", nil},
		{"too large", func() error { _, err := src.ReadSmall(ctx, upgradebundle.ManifestFile, 99); return err }, "larger than 99 bytes", nil},
		{"length", func() error { _, err := readStream(t, src, short); return err }, "the server has 1000 bytes, the manifest says 1001", errTruncated},
	} {
		requests.Store(0)
		err := tc.run()
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if requests.Load() != 1 {
			t.Errorf("%s: %d requests, want 1 (no retry)", tc.name, requests.Load())
		}
	}
}

// TestHTTPRetries: a 503 and a stalled body are tried again.
func TestHTTPRetries(t *testing.T) {
	data := testContent(64 << 10)
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch requests.Add(1) {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:100])
			w.(http.Flusher).Flush()
			select { // stall until the client gives up on us
			case <-r.Context().Done():
			case <-release:
			}
		default:
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		}
	}))
	defer srv.Close()
	defer close(release)
	opts := noWait()
	opts.Stall = 200 * time.Millisecond
	var lines []string
	opts.Logf = func(format string, args ...any) { lines = append(lines, format) }
	src, err := OpenSource(srv.URL+"/", opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readStream(t, src, fileOf(upgradebundle.OSImageFile, data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if requests.Load() != 3 || len(lines) != 2 {
		t.Errorf("%d requests, %d retry lines; want 3 and 2", requests.Load(), len(lines))
	}
}

func TestContentRange(t *testing.T) {
	for v, want := range map[string][3]int64{
		"bytes 10-99/100": {10, 100, 1},
		"bytes 0-0/1":     {0, 1, 1},
		"bytes */100":     {0, 0, 0},
		"items 1-2/3":     {0, 0, 0},
		"bytes 1-2":       {0, 0, 0},
	} {
		start, total, ok := contentRange(v)
		if ok != (want[2] == 1) || (ok && (start != want[0] || total != want[1])) {
			t.Errorf("contentRange(%q) = %d, %d, %v; want %v", v, start, total, ok, want)
		}
	}
}
