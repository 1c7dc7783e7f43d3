package bootinit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseNetbootSource(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	tests := []struct {
		osArg, base, digest string
		wantURL, wantErr    string
	}{
		{"url:os.squashfs", "http://10.0.0.1:8080/boot.ipxe", digest, "http://10.0.0.1:8080/os.squashfs", ""},
		{"url:os.squashfs", "http://10.0.0.1:8080/site/pxe/boot.ipxe", strings.ToUpper(digest), "http://10.0.0.1:8080/site/pxe/os.squashfs", ""},
		{"url:http://h:1/x.sqfs", "", digest, "http://h:1/x.sqfs", ""},
		{"url:os.squashfs", "", digest, "", "is relative and there is no appliance.os.base="},
		{"url:os.squashfs", "boot.ipxe", digest, "", "not an absolute URL"},
		{"url:tftp://h/os", "", digest, "", `scheme "tftp"`},
		{"url:http://h/os", "", "abc", "", "want 64 hex digits"},
		{"url:http://h/os", "", "", "", "want 64 hex digits"},
		{"url:", "", digest, "", "want url:<http URL"},
	}
	for _, tt := range tests {
		src, err := ParseNetbootSource(tt.osArg, tt.base, tt.digest)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseNetbootSource(%q, %q, %q) = %v, want error containing %q", tt.osArg, tt.base, tt.digest, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNetbootSource(%q, %q): %v", tt.osArg, tt.base, err)
			continue
		}
		if src.URL != tt.wantURL || src.SHA256 != digest {
			t.Errorf("ParseNetbootSource(%q, %q) = %+v, want URL %s", tt.osArg, tt.base, src, tt.wantURL)
		}
	}
}

func TestParseConfigNetboot(t *testing.T) {
	digest := strings.Repeat("0f", 32)
	c, err := ParseConfig("console=ttyS0 appliance.os=url:os.squashfs appliance.os.base=http://10.0.0.1:8080/boot.ipxe appliance.os.sha256=" + digest + " appliance.state=tmpfs")
	if err != nil {
		t.Fatal(err)
	}
	if c.Netboot == nil || c.Netboot.URL != "http://10.0.0.1:8080/os.squashfs" || !c.StateTmpfs || c.OS != (Spec{}) {
		t.Errorf("ParseConfig = %+v (netboot %+v)", c, c.Netboot)
	}
	if _, err := ParseConfig("appliance.os=url:http://h/os"); err == nil || !strings.Contains(err.Error(), "appliance.os.sha256") {
		t.Errorf("url: without digest: err = %v, want one naming appliance.os.sha256", err)
	}
}

// flakyServer serves image after failing the first len(faults) requests,
// one fault each.
func flakyServer(t *testing.T, image []byte, faults []string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		fault := ""
		if i < len(faults) {
			fault = faults[i]
		}
		switch fault {
		case "503":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "truncate":
			w.Header().Set("Content-Length", "1000000")
			w.Write(image[:len(image)/2])
		case "corrupt":
			bad := append([]byte(nil), image...)
			bad[7] ^= 0xff
			w.Write(bad)
		default:
			w.Write(image)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func testImage() ([]byte, string) {
	image := []byte(strings.Repeat("hsqs not really a squashfs\n", 4000))
	sum := sha256.Sum256(image)
	return image, hex.EncodeToString(sum[:])
}

func TestFetchVerifiedRetries(t *testing.T) {
	image, digest := testImage()
	srv, requests := flakyServer(t, image, []string{"503", "truncate", "corrupt"})
	var logBuf strings.Builder
	dest := filepath.Join(t.TempDir(), "os.squashfs")
	n, err := FetchVerified(context.Background(), FetchOptions{
		Source: NetbootSource{URL: srv.URL + "/os.squashfs", SHA256: digest},
		Dest:   dest, Attempts: 5, Backoff: time.Millisecond, Log: log.New(&logBuf, "", 0),
	})
	if err != nil {
		t.Fatalf("FetchVerified: %v\nlog:\n%s", err, logBuf.String())
	}
	if n != int64(len(image)) || requests.Load() != 4 {
		t.Errorf("got %d bytes in %d requests, want %d bytes in 4", n, requests.Load(), len(image))
	}
	got, err := os.ReadFile(dest)
	if err != nil || string(got) != string(image) {
		t.Errorf("dest holds %d bytes (err %v), want the image", len(got), err)
	}
	for _, want := range []string{"HTTP 503", "truncated", "SHA-256 mismatch", "retry 2/5", "retry 4/5", "verified"} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logBuf.String())
		}
	}
}

func TestFetchVerifiedGivesUp(t *testing.T) {
	image, digest := testImage()
	srv, requests := flakyServer(t, image, []string{"corrupt", "corrupt", "corrupt"})
	dest := filepath.Join(t.TempDir(), "os.squashfs")
	_, err := FetchVerified(context.Background(), FetchOptions{
		Source: NetbootSource{URL: srv.URL + "/os.squashfs", SHA256: digest},
		Dest:   dest, Attempts: 3, Backoff: time.Millisecond,
	})
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v, want a digest mismatch after 3 attempts", err)
	}
	if requests.Load() != 3 {
		t.Errorf("%d requests, want 3", requests.Load())
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed download left %s (stat: %v)", dest, err)
	}
}

func TestFetchVerifiedStopsOnCancel(t *testing.T) {
	image, digest := testImage()
	srv, _ := flakyServer(t, image, []string{"503", "503", "503"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := FetchVerified(ctx, FetchOptions{
		Source: NetbootSource{URL: srv.URL + "/os.squashfs", SHA256: digest},
		Dest:   filepath.Join(t.TempDir(), "os.squashfs"), Attempts: 3, Backoff: time.Hour,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
}
