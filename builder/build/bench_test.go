package build

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
)

// BenchmarkRebuildWarmLockedVsCold builds the platform fixture (two charts,
// five images of a shared 64 MiB layer and a 16 MiB one each, through
// registry and chart mirrors on 127.0.0.1, a stand-in base and K3s) cold (empty cache, no lock), then again warm with the lock
// it resolved, and reports both times, their ratio and the requests the
// warm build made (which must be none).
func BenchmarkRebuildWarmLockedVsCold(b *testing.B) {
	var cold, warm time.Duration
	for i := 0; b.Loop(); i++ {
		f := newPlatformFixtureSized(b, 64<<20, 16<<20)
		start := time.Now()
		if _, err := f.build(b, fmt.Sprintf("cold-%d", i)); err != nil {
			b.Fatal(err)
		}
		cold += time.Since(start)

		c, err := OpenCache(f.site, cache.Options{Dir: f.opts.CacheDir})
		if err != nil {
			b.Fatal(err)
		}
		res, err := Resolve(context.Background(), f.site, ResolveOptions{Cache: c, Catalog: f.opts.Catalog})
		if err != nil {
			b.Fatal(err)
		}
		f.opts.Lock, f.opts.LockPath, f.opts.Locked = res.Lock, filepath.Join(f.work, "site.lock"), true
		f.registry.ResetRequests()
		f.charts.ResetRequests()
		start = time.Now()
		if _, err := f.build(b, fmt.Sprintf("warm-%d", i)); err != nil {
			b.Fatal(err)
		}
		warm += time.Since(start)
		if n := f.registry.Requests() + f.charts.Requests(); n != 0 {
			b.Fatalf("warm locked rebuild made %d requests", n)
		}
	}
	n := float64(b.N)
	b.ReportMetric(cold.Seconds()/n, "cold-s")
	b.ReportMetric(warm.Seconds()/n, "warm-locked-s")
	b.ReportMetric(warm.Seconds()/cold.Seconds(), "warm/cold")
	b.ReportMetric(0, "ns/op")
}
