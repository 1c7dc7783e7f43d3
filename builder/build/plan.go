package build

import (
	"context"
	"log/slog"
	"time"

	"github.com/ml-appliance/appliance/builder/baseos"
	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/imagestore"
	"github.com/ml-appliance/appliance/builder/k3s"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/progress"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
)

// The plan is the build's first step: every input resolved to a
// digest-pinned form, fetched into the cache and verified, before the
// pipeline builds anything (and, with --locked, checked against the lock):
//
//	os.base   image tag -> its manifest digest (the lock's pin when it has one)
//	          rootfs URL -> its sha256 (os.base.sha256); path, dir -> hashed in place
//	os.kernel .deb URL -> its sha256; path -> hashed in place
//	k3s       the release's checksum file, binary and airgap archive
//	platform  each chart's archive, each image's index and manifest
//
// The rest of the pipeline only consumes the Plan; `builder lock` writes
// its Lock.

// Plan is every input of a site resolved to a digest and held, verified,
// in the cache.
type Plan struct {
	// Base is the base OS; zero when ResolveOptions.LockOnly and the base
	// is not an image.
	Base PlannedBase
	// Kernel is the kernel .deb; nil when the kernel is the base's (or
	// ResolveOptions.LockOnly).
	Kernel *PlannedFile
	// K3s is the verified release; nil when the site has no k3s section.
	K3s *k3s.Release
	// Platform is the resolved platform; nil when the site enables none.
	Platform *platform.Plan
	// Images are Platform.Images pulled, in the same order.
	Images []imagestore.Image
	// Lock pins what the network gave: the base image, K3s, the charts
	// and the images.
	Lock *lock.Lock
}

// PlannedBase is the base OS as baseos.AddTo reads it.
type PlannedBase struct {
	Source baseos.Source
	// Input names it in the build report ("base").
	Input report.Input
}

// PlannedFile is a file input: a local file used in place, or a download
// in the cache.
type PlannedFile struct {
	// Path holds its bytes on the build host.
	Path string
	// Input names it in the build report.
	Input report.Input
}

// ResolveOptions configures Resolve.
type ResolveOptions struct {
	// Cache holds downloads; required.
	Cache *cache.Cache
	// Pins are used for whatever they pin (a moved tag is not followed);
	// nil resolves everything afresh.
	Pins *lock.Lock
	// LockOnly resolves only what a lock pins (for `builder lock`): the
	// base only when it is an image, no kernel .deb.
	LockOnly bool
	// Catalog lists the platform's components; nil is the builder's own
	// (catalog.Default).
	Catalog *catalog.Catalog
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Progress shows image pulls; nil shows nothing.
	Progress *progress.Display
	// LocalCharts is where the site's local charts are packaged (the
	// build's scratch directory); ModTime stamps their files.
	LocalCharts string
	ModTime     time.Time
}

// Resolve resolves every input of s through the cache: the base OS, the
// kernel .deb, the K3s release, the platform's charts and images. It fails
// naming everything that is missing.
func Resolve(ctx context.Context, s *site.Site, opts ResolveOptions) (*Plan, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Plan{Lock: lock.New()}
	if err := p.resolveBase(ctx, s.OS.Base, opts); err != nil {
		return nil, err
	}
	if deb := s.OS.Kernel.Deb; deb != "" && !opts.LockOnly {
		f, err := resolveFile(ctx, opts.Cache, "kernel", deb, s.OS.Kernel.SHA256)
		if err != nil {
			return nil, err
		}
		p.Kernel = &f
	}
	if !s.K3s.Enabled() {
		return p, nil // no K3s, no platform: the config's validation requires one for the other
	}
	if err := p.resolveCluster(ctx, s, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// plan is the pipeline's first step: with --locked it checks the base
// against the lock first (before pulling it), then resolves every input
// with the lock's pins and checks the whole against the lock.
func (b *pipeline) plan(ctx context.Context) (*Plan, error) {
	c, err := b.openCache()
	if err != nil {
		return nil, err
	}
	if b.opts.Locked {
		if err := b.checkLockedBase(ctx, c); err != nil {
			return nil, err
		}
	}
	p, err := Resolve(ctx, b.site, ResolveOptions{Cache: c, Pins: b.opts.Lock, Catalog: b.opts.Catalog, Logger: b.log,
		Progress: b.opts.Progress, LocalCharts: b.scratch, ModTime: b.modTime})
	if err != nil {
		return nil, err
	}
	if b.opts.Locked {
		if err := checkLocked(b.opts.Lock, p.Lock, b.opts.LockPath); err != nil {
			return nil, err
		}
	}
	return p, nil
}
