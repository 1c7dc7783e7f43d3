package platform

import (
	"context"
	"testing"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// newCache opens a cache in a temp dir.
func newCache(t *testing.T) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// repoWithCharts serves web and db.
func repoWithCharts(t *testing.T) *testrepo.Server {
	return testrepo.ChartRepo(t, testrepo.WebChart(), testrepo.DBChart())
}

func testCatalog(t *testing.T, repo string) *catalog.Catalog { return testrepo.Catalog(t, repo) }

var ctx = context.Background()
