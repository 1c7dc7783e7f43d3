package charts

import (
	"context"
	"reflect"
	"testing"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/internal/testrepo"
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
	httpRepo, httpSum := countedChartRepo(t, testChart(), "")
	reg := testrepo.Registry(t)
	host := reg.Host
	ociSum, _ := pushChart(t, host+"/charts/app:1.0.0")

	for _, tt := range []struct {
		kind     string
		src      Source
		sum      string
		requests *testrepo.Server
	}{
		{"http", Source{Repo: httpRepo.URL, Name: "app", Version: "1.0.0"}, httpSum, httpRepo},
		{"oci", Source{Repo: "oci://" + host + "/charts", Name: "app", Version: "1.0.0"}, ociSum, reg},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			dir := t.TempDir()
			tt.requests.ResetRequests()
			first, err := Pull(context.Background(), tt.src, PullOptions{Store: cacheAt(t, dir, false)})
			if err != nil {
				t.Fatal(err)
			}
			if first.SHA256 != "sha256:"+tt.sum {
				t.Fatalf("pulled %s, want the archive sha256:%s", first.SHA256, tt.sum)
			}
			if tt.requests.Requests() == 0 {
				t.Fatal("the first pull made no request")
			}

			pinned := tt.src
			pinned.Digest = first.SHA256
			for _, offline := range []bool{false, true} {
				tt.requests.ResetRequests()
				again, err := Pull(context.Background(), pinned, PullOptions{Store: cacheAt(t, dir, offline)})
				if err != nil {
					t.Fatalf("offline=%v: %v", offline, err)
				}
				if n := tt.requests.Requests(); n != 0 {
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
			tt.requests.ResetRequests()
			_, err = Pull(context.Background(), other, PullOptions{Store: cacheAt(t, dir, false)})
			want := "chart web 1.0.0 from the cache (" + first.SHA256 + "): archive holds app 1.0.0"
			if err == nil || err.Error() != want || tt.requests.Requests() != 0 {
				t.Errorf("wrong name: %d requests, error %v\nwant 0 and %s", tt.requests.Requests(), err, want)
			}

			// A cold cache with the pin fetches and checks it.
			tt.requests.ResetRequests()
			cold, err := Pull(context.Background(), pinned, PullOptions{Store: cacheAt(t, t.TempDir(), false)})
			if err != nil || cold.SHA256 != first.SHA256 || tt.requests.Requests() == 0 {
				t.Errorf("cold pinned pull: %d requests, %v", tt.requests.Requests(), err)
			}
		})
	}
}

// TestPullOfflineUsesTheLastIndex pulls an HTTP chart online, then offline
// without a pin from the same cache directory: the index.yaml fetched
// online serves, and nothing is asked. A cache that never fetched it fails
// offline without a request.
func TestPullOfflineUsesTheLastIndex(t *testing.T) {
	srv, sum := countedChartRepo(t, testChart(), "")
	src := Source{Repo: srv.URL, Name: "app", Version: "1.0.0"}
	dir := t.TempDir()
	if _, err := Pull(context.Background(), src, PullOptions{Store: cacheAt(t, dir, false)}); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	p, err := Pull(context.Background(), src, PullOptions{Store: cacheAt(t, dir, true)})
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA256 != "sha256:"+sum || srv.Requests() != 0 {
		t.Errorf("offline pull: %s with %d requests, want sha256:%s with 0", p.SHA256, srv.Requests(), sum)
	}
	_, err = Pull(context.Background(), src, PullOptions{Store: cacheAt(t, t.TempDir(), true)})
	want := "chart app 1.0.0: offline: " + srv.URL + "/index.yaml is not in the cache"
	if err == nil || err.Error() != want || srv.Requests() != 0 {
		t.Errorf("cold offline pull: %d requests, error %v\nwant 0 and %s", srv.Requests(), err, want)
	}
}
