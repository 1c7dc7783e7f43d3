package charts

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/ml-appliance/appliance/builder/cache"
)

func cacheAt(t *testing.T, dir string, offline bool) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: dir, Offline: offline, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPullPinnedMakesNoRequest pulls an HTTP and an OCI chart once, then
// again with Source.Digest set (as a lock gives it) from the same cache
// directory: the second pull asks the repository nothing.
func TestPullPinnedMakesNoRequest(t *testing.T) {
	httpURL, httpSum, httpRequests := countedChartRepo(t, testChart(), "")
	h, ociRequests := counted(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	reg := httptest.NewServer(h)
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	ociSum, _ := pushChart(t, host+"/charts/app:1.0.0")

	for _, tt := range []struct {
		kind     string
		src      Source
		sum      string
		requests *atomic.Int32
	}{
		{"http", Source{Repo: httpURL, Name: "app", Version: "1.0.0"}, httpSum, httpRequests},
		{"oci", Source{Repo: "oci://" + host + "/charts", Name: "app", Version: "1.0.0"}, ociSum, ociRequests},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			dir := t.TempDir()
			tt.requests.Store(0)
			first, err := Pull(context.Background(), tt.src, PullOptions{Store: cacheAt(t, dir, false)})
			if err != nil {
				t.Fatal(err)
			}
			if first.SHA256 != "sha256:"+tt.sum {
				t.Fatalf("pulled %s, want the archive sha256:%s", first.SHA256, tt.sum)
			}
			if tt.requests.Load() == 0 {
				t.Fatal("the first pull made no request")
			}

			pinned := tt.src
			pinned.Digest = first.SHA256
			for _, offline := range []bool{false, true} {
				tt.requests.Store(0)
				again, err := Pull(context.Background(), pinned, PullOptions{Store: cacheAt(t, dir, offline)})
				if err != nil {
					t.Fatalf("offline=%v: %v", offline, err)
				}
				if n := tt.requests.Load(); n != 0 {
					t.Errorf("offline=%v: pinned pull from a warm cache made %d requests, want 0", offline, n)
				}
				if again.SHA256 != first.SHA256 || again.Path != first.Path || again.Name != "app" || again.Version != "1.0.0" {
					t.Errorf("offline=%v: pulled %s %s %s at %s, want app 1.0.0 %s at %s", offline,
						again.Name, again.Version, again.SHA256, again.Path, first.SHA256, first.Path)
				}
				if got := renderImages(t, again); !reflect.DeepEqual(got, wantImages) {
					t.Errorf("offline=%v: images:\n got %#v\nwant %#v", offline, got, wantImages)
				}
			}

			// The archive must still be the chart asked for.
			other := pinned
			other.Name = "web"
			tt.requests.Store(0)
			_, err = Pull(context.Background(), other, PullOptions{Store: cacheAt(t, dir, false)})
			want := "chart web 1.0.0 from the cache (" + first.SHA256 + "): archive holds app 1.0.0"
			if err == nil || err.Error() != want || tt.requests.Load() != 0 {
				t.Errorf("wrong name: %d requests, error %v\nwant 0 and %s", tt.requests.Load(), err, want)
			}

			// A cold cache with the pin fetches and checks it.
			tt.requests.Store(0)
			cold, err := Pull(context.Background(), pinned, PullOptions{Store: cacheAt(t, t.TempDir(), false)})
			if err != nil || cold.SHA256 != first.SHA256 || tt.requests.Load() == 0 {
				t.Errorf("cold pinned pull: %d requests, %v", tt.requests.Load(), err)
			}
		})
	}
}
