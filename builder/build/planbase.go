package build

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/site"
)

// resolveBase resolves the configured base OS: an image by the lock's pin
// when it pins os.base.image (a moved tag is not followed), else by its
// reference (a tag resolved at the registry); a rootfs URL by
// os.base.sha256; a local rootfs or directory hashed in place.
func (p *Plan) resolveBase(ctx context.Context, base site.Base, opts ResolveOptions) error {
	if opts.LockOnly && base.Kind() != site.BaseImage {
		return nil // pinned by the config (os.base.sha256) or local: nothing to lock
	}
	switch base.Kind() {
	case site.BaseRootfs:
		f, err := resolveFile(ctx, opts.Cache, "base", base.Rootfs, base.SHA256)
		if err != nil {
			return err
		}
		p.Base.Source.TarPath, p.Base.Input = f.Path, f.Input
	case site.BaseDir:
		digest, err := dirDigest(base.Dir)
		if err != nil {
			return err
		}
		p.Base.Source.Dir, p.Base.Input = base.Dir, report.Input{Name: "base", Source: base.Dir, Digest: digest}
	case site.BaseImage:
		img, err := baseImage(ctx, base.Image, opts)
		if err != nil {
			return fmt.Errorf("base image %s: %w", base.Image, err)
		}
		p.Base.Source.Image, p.Base.Source.Name = img.Image, base.Image
		p.Base.Input = report.Input{Name: "base", Source: base.Image, Digest: img.Digest.String()}
		p.Lock.Base = &lock.Image{Ref: base.Image, Manifest: img.Digest.String()}
		if img.IndexDigest.Hex != "" {
			p.Lock.Base.Index = img.IndexDigest.String()
		}
	default:
		return fmt.Errorf("os.base: no base OS configured")
	}
	return nil
}

// baseImage pulls the base image through the cache: by the lock's pin
// when it has one for ref (no request when the cache holds it), else by
// ref. Either way every layer is hashed: baseos reads them from the
// cache's layout, which does not check digests.
func baseImage(ctx context.Context, ref string, opts ResolveOptions) (*cache.Image, error) {
	pin, ok := opts.Pins.BaseImage(ref)
	if !ok {
		if opts.Pins != nil {
			opts.Logger.Warn("the lock does not pin the base image: its tag is resolved at the registry (`builder lock` pins it)", "image", ref)
		}
		return opts.Cache.Image(ctx, ref)
	}
	cp, err := cachePin(pin)
	if err != nil {
		return nil, err
	}
	cp.HashLayers = true
	opts.Logger.Info("base image pinned by the lock", "image", ref, "manifest", pin.Manifest)
	return opts.Cache.PinnedImage(ctx, ref, cp)
}

// cachePin is a lock's image pin as the cache takes it.
func cachePin(pin lock.Image) (cache.Pin, error) {
	var cp cache.Pin
	var err error
	if cp.Digest, err = v1.NewHash(pin.Manifest); err != nil {
		return cp, fmt.Errorf("lock: %w", err)
	}
	if pin.Index != "" {
		if cp.IndexDigest, err = v1.NewHash(pin.Index); err != nil {
			return cp, fmt.Errorf("lock: %w", err)
		}
	}
	return cp, nil
}

// resolveFile returns the host path holding a file input's bytes: a
// local file used in place (checked against want when given) or a URL
// fetched once into the cache and verified against want (required for
// URLs by the config's validation).
func resolveFile(ctx context.Context, c *cache.Cache, name, source, want string) (PlannedFile, error) {
	if !site.IsURL(source) {
		in, err := localFile(c, name, source, want)
		return PlannedFile{Path: source, Input: in}, err
	}
	blob, err := c.URL(ctx, source, want)
	if err != nil {
		return PlannedFile{}, fmt.Errorf("%s %s: %w", name, source, err)
	}
	return PlannedFile{Path: blob.Path(), Input: report.Input{Name: name, Source: source,
		Digest: blob.Digest().String(), Size: blob.Size()}}, nil
}

// localFile hashes a local file used in place (checked against want, a
// sha256 hex digest, when given): the input name.
func localFile(c *cache.Cache, name, path, want string) (report.Input, error) {
	blob, err := c.File(path)
	if err == nil && want != "" && blob.Digest().Hex != want {
		err = fmt.Errorf("sha256 mismatch: file has %s, config says sha256:%s", blob.Digest(), want)
	}
	if err != nil {
		return report.Input{}, fmt.Errorf("%s %s: %w", name, path, err)
	}
	return report.Input{Name: name, Source: path, Digest: blob.Digest().String(), Size: blob.Size()}, nil
}
