package datasource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
)

// seedServer serves files by path and counts requests per path. fail lists,
// per path, status codes served before the file.
type seedServer struct {
	mu       sync.Mutex
	files    map[string]string
	fail     map[string][]int
	requests map[string]int
}

func (s *seedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.URL.Path]++
	if q := s.fail[r.URL.Path]; len(q) > 0 {
		s.fail[r.URL.Path] = q[1:]
		w.WriteHeader(q[0])
		return
	}
	body, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	fmt.Fprint(w, body)
}

func (s *seedServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func startServer(t *testing.T, files map[string]string, fail map[string][]int) (*seedServer, string) {
	t.Helper()
	s := &seedServer{files: files, fail: fail, requests: map[string]int{}}
	if s.fail == nil {
		s.fail = map[string][]int{}
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// recorder records the waits and log lines of Gather.
type recorder struct {
	sleeps []time.Duration
	logs   []string
}

// options are Options for a temp root with no seed volume; waits are
// recorded, not slept.
func (r *recorder) options(t *testing.T, cmdline string) Options {
	return Options{
		Root:    t.TempDir(),
		Cmdline: cmdline,
		Mounter: &filesMounter{},
		Sleep: func(_ context.Context, d time.Duration) error {
			r.sleeps = append(r.sleeps, d)
			return nil
		},
		Logf: func(format string, args ...any) { r.logs = append(r.logs, fmt.Sprintf(format, args...)) },
	}
}

func TestGetRetriesThenSucceeds(t *testing.T) {
	srv, base := startServer(t, map[string]string{"/seed/meta-data": "instance-id: i\n", "/seed/user-data": "#cloud-config\n"},
		map[string][]int{"/seed/user-data": {503, 429}})
	var rec recorder
	sources, err := Gather(context.Background(), rec.options(t, "ds=nocloud;s="+base+"/seed/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 1 || string(sources[0].UserData) != "#cloud-config\n" {
		t.Fatalf("sources = %+v, want the user-data after two failures", sources)
	}
	if n := srv.count("/seed/user-data"); n != 3 {
		t.Errorf("user-data requested %d times, want 3", n)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(rec.sleeps, want) {
		t.Errorf("waits %v, want %v", rec.sleeps, want)
	}
	want := []string{
		"datasource: GET " + base + "/seed/user-data: 503 Service Unavailable; retry 1/5 in 1s",
		"datasource: GET " + base + "/seed/user-data: 429 Too Many Requests; retry 2/5 in 2s",
	}
	if !reflect.DeepEqual(rec.logs, want) {
		t.Errorf("logs =\n%q\nwant\n%q", rec.logs, want)
	}
}

func TestGetRetriesExhausted(t *testing.T) {
	srv, base := startServer(t, nil, map[string][]int{"/c.yaml": {500, 502, 503, 504, 500, 500}})
	var rec recorder
	opts := rec.options(t, "firstboot.config="+base+"/c.yaml")
	opts.Attempts, opts.Backoff = 5, 8*time.Second
	_, err := Gather(context.Background(), opts)
	want := "kernel command line firstboot.config=" + base + "/c.yaml: GET " + base + "/c.yaml: 500 Internal Server Error (after 5 attempts)"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	if n := srv.count("/c.yaml"); n != 5 {
		t.Errorf("requested %d times, want 5", n)
	}
	if want := []time.Duration{8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}; !reflect.DeepEqual(rec.sleeps, want) {
		t.Errorf("waits %v, want %v (doubling, capped at 30s)", rec.sleeps, want)
	}
	if len(rec.logs) != 4 || !strings.HasSuffix(rec.logs[3], ": 504 Gateway Timeout; retry 4/4 in 30s") {
		t.Errorf("logs = %q, want 4 retry lines ending with retry 4/4 in 30s", rec.logs)
	}
}

func TestGetNotFound(t *testing.T) {
	srv, base := startServer(t, map[string]string{"/s/meta-data": "", "/s/user-data": ""}, nil)
	var rec recorder
	sources, err := Gather(context.Background(), rec.options(t, "ds=nocloud;s="+base+"/s"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 1 || sources[0].NetworkConfig != nil || sources[0].MetaData == nil || sources[0].UserData == nil {
		t.Errorf("sources = %+v, want empty meta-data and user-data, no network-config", sources)
	}
	if n := srv.count("/s/network-config"); n != 1 || len(rec.sleeps) != 0 {
		t.Errorf("optional network-config requested %d times with waits %v, want once and no waits", n, rec.sleeps)
	}

	opts := rec.options(t, "firstboot.config="+base+"/missing.yaml")
	opts.Attempts = 2
	_, err = Gather(context.Background(), opts)
	want := "kernel command line firstboot.config=" + base + "/missing.yaml: GET " + base + "/missing.yaml: 404 Not Found (after 2 attempts)"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	if n := srv.count("/missing.yaml"); n != 2 {
		t.Errorf("required document requested %d times, want 2", n)
	}
}

func TestGetPermanentErrors(t *testing.T) {
	srv, base := startServer(t, map[string]string{
		"/big":   strings.Repeat("x", MaxDocumentBytes+1),
		"/limit": strings.Repeat("x", MaxDocumentBytes),
	}, map[string][]int{"/forbidden": {403}})
	for _, tc := range []struct{ path, err string }{
		{"/forbidden", "GET " + base + "/forbidden: 403 Forbidden"},
		{"/big", "GET " + base + "/big: larger than the 1048576 byte (1 MiB) limit for one document"},
	} {
		var rec recorder
		_, err := Gather(context.Background(), rec.options(t, "firstboot.config="+base+tc.path))
		want := "kernel command line firstboot.config=" + base + tc.path + ": " + tc.err
		if err == nil || err.Error() != want {
			t.Errorf("err =\n%v\nwant\n%s", err, want)
		}
		if n := srv.count(tc.path); n != 1 || len(rec.sleeps) != 0 {
			t.Errorf("%s requested %d times with waits %v, want once, no retry", tc.path, n, rec.sleeps)
		}
	}
	var rec recorder
	sources, err := Gather(context.Background(), rec.options(t, "firstboot.config="+base+"/limit"))
	if err != nil || len(sources) != 1 || len(sources[0].UserData) != MaxDocumentBytes {
		t.Errorf("a document of exactly the limit: err %v, %d sources", err, len(sources))
	}
}

func TestGetConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/c.yaml"
	srv.Close()
	var rec recorder
	opts := rec.options(t, "firstboot.config="+url)
	opts.Attempts = 2
	_, err := Gather(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "GET "+url+": dial tcp ") || !strings.HasSuffix(err.Error(), "connection refused (after 2 attempts)") {
		t.Errorf("err = %v, want a refused connection after 2 attempts", err)
	}
	if len(rec.logs) != 1 || !strings.HasSuffix(rec.logs[0], "connection refused; retry 1/1 in 1s") {
		t.Errorf("logs = %q, want one retry line", rec.logs)
	}
}

func TestGetDigest(t *testing.T) {
	_, base := startServer(t, map[string]string{"/c.yaml": "test"}, nil) // sha256("test") is digest
	var rec recorder
	sources, err := Gather(context.Background(), rec.options(t, "firstboot.config="+base+"/c.yaml firstboot.config.sha256="+digest))
	if err != nil || len(sources) != 1 || string(sources[0].UserData) != "test" {
		t.Fatalf("Gather = %+v, %v; want the verified document", sources, err)
	}
	other := strings.Repeat("0", 64)
	_, err = Gather(context.Background(), rec.options(t, "firstboot.config="+base+"/c.yaml firstboot.config.sha256="+other))
	want := "kernel command line firstboot.config=" + base + "/c.yaml: content has sha256 " + digest + ", firstboot.config.sha256= wants " + other
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestGetContextCancelStopsWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, base := startServer(t, nil, map[string][]int{"/c.yaml": {503, 503}})
	var rec recorder
	opts := rec.options(t, "firstboot.config="+base+"/c.yaml")
	opts.Backoff = time.Hour
	// The context ends as the first wait starts; the real wait must end with it.
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctxsleep.Sleep(ctx, d)
	}
	_, err := Gather(ctx, opts)
	want := "kernel command line firstboot.config=" + base + "/c.yaml: GET " + base + "/c.yaml: context canceled (waiting to retry after 503 Service Unavailable)"
	if !errors.Is(err, context.Canceled) || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	if n := srv.count("/c.yaml"); n != 1 {
		t.Errorf("requested %d times, want 1", n)
	}
}
