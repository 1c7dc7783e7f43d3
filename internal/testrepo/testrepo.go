// Package testrepo runs what builder tests download from, on 127.0.0.1: an
// OCI registry (go-containerregistry's in-process registry) and a Helm
// chart repository (an index.yaml and the charts' .tgz files), each
// counting the requests it answers so tests can assert that a warm, locked
// build makes none.
package testrepo

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// Server is a test server that counts requests.
type Server struct {
	// URL is http://127.0.0.1:port.
	URL string
	// Host is 127.0.0.1:port, the registry host in image references.
	Host     string
	requests atomic.Int64
	dir      string
}

// Requests is how many requests the server has answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// ResetRequests sets the count back to zero.
func (s *Server) ResetRequests() { s.requests.Store(0) }

func serve(t testing.TB, h http.Handler) *Server {
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Host = strings.TrimPrefix(srv.URL, "http://")
	return s
}

// Registry starts an empty OCI registry.
func Registry(t testing.TB) *Server {
	t.Helper()
	return serve(t, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
}

// DiskRegistry starts an empty OCI registry whose blobs are files under
// dir (testfixture.DiskRegistry), for payloads of gigabytes.
func DiskRegistry(t testing.TB, dir string) *Server {
	t.Helper()
	return serve(t, testfixture.DiskRegistryHandler(t, dir))
}

// ChartRepo serves charts (packaged with chartutil.Save) and an index.yaml
// listing each with its digest. Add more with AddChart.
func ChartRepo(t testing.TB, charts ...*chart.Chart) *Server {
	t.Helper()
	dir := t.TempDir()
	s := serve(t, http.FileServer(http.Dir(dir)))
	s.dir = dir
	for _, ch := range charts {
		s.AddChart(t, ch)
	}
	return s
}

// AddChart packages ch into the repository and lists it in index.yaml.
// It returns the archive's sha256 as "sha256:<hex>".
func (s *Server) AddChart(t testing.TB, ch *chart.Chart) string {
	t.Helper()
	return s.AddChartListed(t, ch, "")
}

// AddChartListed is AddChart with index.yaml giving indexDigest (bare hex)
// for the chart instead of its real digest, when indexDigest is set: a
// repository whose index lies.
func (s *Server) AddChartListed(t testing.TB, ch *chart.Chart, indexDigest string) string {
	t.Helper()
	p, err := chartutil.Save(ch, s.dir)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := fileDigest(p)
	if err != nil {
		t.Fatal(err)
	}
	idxPath := filepath.Join(s.dir, "index.yaml")
	idx := repo.NewIndexFile()
	if _, err := os.Stat(idxPath); err == nil {
		if idx, err = repo.LoadIndexFile(idxPath); err != nil {
			t.Fatal(err)
		}
	}
	if indexDigest == "" {
		indexDigest = strings.TrimPrefix(digest, "sha256:")
	}
	if err := idx.MustAdd(ch.Metadata, filepath.Base(p), "", indexDigest); err != nil {
		t.Fatal(err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(idxPath, 0o644); err != nil {
		t.Fatal(err)
	}
	return digest
}
