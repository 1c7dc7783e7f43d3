package imageregistry

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzOpen from fuzzSeeds")

// fuzzSeeds are FuzzOpen's seeds, committed as its corpus: a payload
// builder/imagestore wrote (five images, tiny layers) and two hostile
// variants of it (a symlink for a blob, a GNU sparse blob).
func fuzzSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	p := newPayload(tb, 1)
	seeds := map[string][]byte{"payload": p.data}
	for _, c := range hostileCases() {
		if c.name == "symlink blob" || c.name == "sparse" {
			seeds[strings.ReplaceAll(c.name, " ", "-")] = hostilePayload(tb, p, c)
		}
	}
	return seeds
}

// FuzzOpen feeds open arbitrary payloads (any index.json digest
// accepted): it must not panic, must stay within bounded memory and time,
// and a payload it accepts must serve what it promises: every tagged name
// the manifest its index.json names, with that digest, and every blob
// with its length.
func FuzzOpen(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			l   *Layout
			err error
		)
		fuzzcheck.Bounded(t, 64<<20, 10*time.Second, func() {
			l, err = open(bytes.NewReader(data), int64(len(data)), anyIndex, defaultLimits())
		})
		if err != nil {
			if l != nil {
				t.Fatalf("open failed (%v) but returned a layout", err)
			}
			return
		}
		checkServes(t, l)
	})
}

// checkServes asks l's handler for every tag and blob l holds.
func checkServes(t *testing.T, l *Layout) {
	h := l.Handler()
	for k, dgst := range l.tags {
		path := "/v2/" + k.repository + "/manifests/" + k.tag + "?ns=" + url.QueryEscape(k.registry)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(w.Result().Body)
		if w.Code != http.StatusOK || digestOf(body) != dgst || w.Header().Get("Docker-Content-Digest") != dgst {
			t.Errorf("GET %s: %d, content %s, header %s, want 200 and %s", path, w.Code, digestOf(body),
				w.Header().Get("Docker-Content-Digest"), dgst)
		}
	}
	for dgst, s := range l.blobs {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/v2/x/blobs/"+dgst, nil))
		if w.Code != http.StatusOK || w.Header().Get("Content-Length") != strconv.FormatInt(s.size, 10) {
			t.Errorf("HEAD blob %s: %d, Content-Length %s, want 200 and %d", dgst, w.Code, w.Header().Get("Content-Length"), s.size)
		}
	}
}

// The seeds are committed as FuzzOpen's corpus, so a plain `go test`
// runs them and a fuzzing run starts from them.
func TestFuzzOpenCorpus(t *testing.T) {
	fuzzcheck.Corpus(t, "testdata/fuzz/FuzzOpen", fuzzSeeds(t), *updateCorpus)
}
