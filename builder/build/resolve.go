package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/imagestore"
	"github.com/ml-appliance/appliance/builder/k3s"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/progress"
	"github.com/ml-appliance/appliance/builder/site"
)

// Resolution is every network input of a site resolved to a digest and
// held, verified, in the cache: the K3s release, the platform's charts and
// its images.
type Resolution struct {
	// K3s is the verified release; nil when the site has no k3s section.
	K3s *k3s.Release
	// Platform is the resolved platform; nil when the site enables none.
	Platform *platform.Plan
	// Images are Platform.Images pulled, in the same order.
	Images []imagestore.Image
	// Lock pins all of it.
	Lock *lock.Lock
}

// ResolveOptions configures Resolve.
type ResolveOptions struct {
	// Cache holds downloads; required.
	Cache *cache.Cache
	// Pins are used for whatever they pin (a moved tag is not followed);
	// nil resolves everything afresh.
	Pins *lock.Lock
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

// Resolve fetches and verifies the K3s release, resolves the platform and
// pulls its images, all through the cache. It fails naming everything that
// is missing.
func Resolve(ctx context.Context, s *site.Site, opts ResolveOptions) (*Resolution, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := &Resolution{Lock: lock.New()}
	if s.K3s.Enabled() {
		fo := k3s.FetchOptions{Logger: log}
		if opts.Pins != nil && opts.Pins.K3s != nil && opts.Pins.K3s.Version == s.K3s.Version {
			fo.ChecksumsSHA256 = opts.Pins.K3s.Checksums
		}
		log.Info("resolving K3s", "version", s.K3s.Version)
		rel, err := k3s.Fetch(ctx, opts.Cache, s.K3s, fo)
		if err != nil {
			return nil, fmt.Errorf("k3s: %w", err)
		}
		res.K3s = &rel
		if rel.Version != "" {
			res.Lock.K3s = &lock.K3s{Version: rel.Version, Checksums: rel.ChecksumsDigest,
				Binary: rel.Binary.Digest().String(), Airgap: rel.Airgap.Digest().String()}
		}
	}
	if !s.HasWorkloads() {
		return res, nil
	}
	cat := opts.Catalog
	if cat == nil {
		var err error
		if cat, err = catalog.Default(); err != nil {
			return nil, err
		}
	}
	plan, err := platform.Resolve(ctx, s, platform.Options{Catalog: cat, Charts: opts.Cache, Lock: opts.Pins, Logger: log,
		LocalCharts: opts.LocalCharts, ModTime: opts.ModTime})
	if err != nil {
		return nil, err
	}
	res.Platform = plan
	for _, c := range plan.Components {
		if c.Local != "" {
			continue // beside the config, under its version control: nothing to pin
		}
		res.Lock.Charts = append(res.Lock.Charts, lock.Chart{Component: c.Catalog.Name, Repo: c.Catalog.Chart.Repo,
			Name: c.Chart.Name, Version: c.Chart.Version, Digest: c.Chart.SHA256})
	}
	store, err := imagestore.New(imagestore.Options{Cache: pinnedImages{c: opts.Cache, pins: opts.Pins}})
	if err != nil {
		return nil, err
	}
	if res.Images, err = pullAll(ctx, store, plan.Images, opts.Progress); err != nil {
		return nil, err
	}
	for _, img := range res.Images {
		pin := lock.Image{Ref: img.Ref, Manifest: img.Digest.String()}
		if img.IndexDigest.Hex != "" {
			pin.Index = img.IndexDigest.String()
		}
		res.Lock.Images = append(res.Lock.Images, pin) // plan.Images lists each reference once
	}
	return res, nil
}

// pullAll pulls every needed image, showing progress, and fails naming
// every image that could not be pulled and what needs it.
func pullAll(ctx context.Context, store *imagestore.Store, needs []platform.Need, d *progress.Display) ([]imagestore.Image, error) {
	task := d.Task("pull platform images", len(needs), 0)
	var out []imagestore.Image
	var errs []error
	for _, n := range needs {
		imgs, err := store.Pull(ctx, []string{n.Ref})
		if err != nil {
			errs = append(errs, fmt.Errorf("%w (needed by %s)", err, strings.Join(n.From, "; ")))
			continue
		}
		out = append(out, imgs[0])
		task.Add(1, imgs[0].Size)
	}
	err := errors.Join(errs...)
	task.Done(err)
	if err != nil {
		return nil, fmt.Errorf("platform images: %w", err)
	}
	return out, nil
}

// pinnedImages pulls an image the lock pins by its pinned digests (from the
// cache alone when it holds them), any other by its reference.
type pinnedImages struct {
	c    *cache.Cache
	pins *lock.Lock
}

func (p pinnedImages) Image(ctx context.Context, ref string) (*cache.Image, error) {
	pin, ok := p.pins.Image(ref)
	if !ok {
		return p.c.Image(ctx, ref)
	}
	var cp cache.Pin
	var err error
	if cp.Digest, err = v1.NewHash(pin.Manifest); err != nil {
		return nil, fmt.Errorf("image %s: lock: %w", ref, err)
	}
	if pin.Index != "" {
		if cp.IndexDigest, err = v1.NewHash(pin.Index); err != nil {
			return nil, fmt.Errorf("image %s: lock: %w", ref, err)
		}
	}
	return p.c.PinnedImage(ctx, ref, cp)
}

// checkLocked fails when the resolution differs from the lock on disk.
func checkLocked(have, want *lock.Lock, lockPath string) error {
	diff := lock.Diff(have, want)
	if len(diff) == 0 {
		return nil
	}
	const maxLines = 20
	more := ""
	if len(diff) > maxLines {
		more = fmt.Sprintf("\n  ... and %d more", len(diff)-maxLines)
		diff = diff[:maxLines]
	}
	return fmt.Errorf("--locked: the config needs what %s does not pin (run `builder lock` to update it):\n  %s%s",
		lockPath, strings.Join(diff, "\n  "), more)
}
