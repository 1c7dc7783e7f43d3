package build

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/imagestore"
	"github.com/ml-appliance/appliance/builder/k3s"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/progress"
	"github.com/ml-appliance/appliance/builder/site"
)

// resolveCluster fetches and verifies the K3s release, resolves the
// platform and pulls its images, all through the cache, with the pins of
// opts.Pins.
func (p *Plan) resolveCluster(ctx context.Context, s *site.Site, opts ResolveOptions) error {
	log := opts.Logger
	fo := k3s.FetchOptions{Logger: log}
	if opts.Pins != nil && opts.Pins.K3s != nil && opts.Pins.K3s.Version == s.K3s.Version {
		fo.ChecksumsSHA256 = opts.Pins.K3s.Checksums
	}
	log.Info("resolving K3s", "version", s.K3s.Version)
	rel, err := k3s.Fetch(ctx, opts.Cache, s.K3s, fo)
	if err != nil {
		return fmt.Errorf("k3s: %w", err)
	}
	p.K3s = &rel
	if rel.Version != "" {
		p.Lock.K3s = &lock.K3s{Version: rel.Version, Checksums: rel.ChecksumsDigest,
			Binary: rel.Binary.Digest().String(), Airgap: rel.Airgap.Digest().String()}
	}
	if !s.HasWorkloads() {
		return nil
	}
	cat := opts.Catalog
	if cat == nil {
		if cat, err = catalog.Default(); err != nil {
			return err
		}
	}
	plan, err := platform.Resolve(ctx, s, platform.Options{Catalog: cat, Charts: opts.Cache, Lock: opts.Pins, Logger: log,
		LocalCharts: opts.LocalCharts, ModTime: opts.ModTime})
	if err != nil {
		return err
	}
	p.Platform = plan
	for _, c := range plan.Components {
		if c.Local != "" {
			continue // beside the config, under its version control: nothing to pin
		}
		p.Lock.Charts = append(p.Lock.Charts, lock.Chart{Component: c.Catalog.Name, Repo: c.Catalog.Chart.Repo,
			Name: c.Chart.Name, Version: c.Chart.Version, Digest: c.Chart.SHA256})
	}
	store, err := imagestore.New(imagestore.Options{Cache: pinnedImages{c: opts.Cache, pins: opts.Pins}})
	if err != nil {
		return err
	}
	if p.Images, err = pullAll(ctx, store, plan.Images, opts.Progress); err != nil {
		return err
	}
	for _, img := range p.Images {
		pin := lock.Image{Ref: img.Ref, Manifest: img.Digest.String()}
		if img.IndexDigest.Hex != "" {
			pin.Index = img.IndexDigest.String()
		}
		p.Lock.Images = append(p.Lock.Images, pin) // plan.Images lists each reference once
	}
	return nil
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
	cp, err := cachePin(pin)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return p.c.PinnedImage(ctx, ref, cp)
}
