package build

import (
	"context"
	"fmt"

	"github.com/ml-appliance/appliance/builder/baseos"
	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
)

// openCache opens the build's content-addressed cache.
func (b *pipeline) openCache() (*cache.Cache, error) {
	if b.cache == nil {
		c, err := OpenCache(b.site, cache.Options{Dir: b.opts.CacheDir, Offline: b.opts.Offline, Logger: b.log, Progress: b.opts.Progress})
		if err != nil {
			return nil, err
		}
		b.cache = c
	}
	return b.cache, nil
}

// OpenCache opens the download cache opts describe with the site's
// registry mirrors.
func OpenCache(s *site.Site, opts cache.Options) (*cache.Cache, error) {
	opts.RegistryMirrors = s.Mirrors.Registries
	return cache.New(opts)
}

// resolveBase puts the configured base OS into the tree and records it.
func (b *pipeline) resolveBase(ctx context.Context, tree *rootfs.Tree) error {
	base := b.site.OS.Base
	var src baseos.Source
	switch base.Kind() {
	case site.BaseRootfs:
		path, err := b.resolveFile(ctx, "base", base.Rootfs, base.SHA256)
		if err != nil {
			return err
		}
		src.TarPath = path
	case site.BaseDir:
		digest, err := dirDigest(base.Dir)
		if err != nil {
			return err
		}
		b.addInput("base", base.Dir, digest, 0)
		src.Dir = base.Dir
	case site.BaseImage:
		c, err := b.openCache()
		if err != nil {
			return err
		}
		img, err := c.Image(ctx, base.Image)
		if err != nil {
			return fmt.Errorf("base image %s: %w", base.Image, err)
		}
		b.addInput("base", base.Image, img.Digest.String(), 0)
		src.Image, src.Name = img.Image, base.Image
	default:
		return fmt.Errorf("os.base: no base OS configured")
	}
	b.log.Info("reading base OS", "kind", base.Kind())
	return baseos.AddTo(ctx, tree, src)
}

// resolveFile returns a host path holding the input's bytes: a local file
// used in place (checked against want when given) or a URL fetched once
// into the cache and verified against want (required for URLs by the
// config's validation). It records the input in the report.
func (b *pipeline) resolveFile(ctx context.Context, name, source, want string) (string, error) {
	if !site.IsURL(source) {
		return source, b.localInput(name, source, want)
	}
	c, err := b.openCache()
	if err != nil {
		return "", err
	}
	blob, err := c.URL(ctx, source, want)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, source, err)
	}
	b.addInput(name, source, blob.Digest().String(), blob.Size())
	return blob.Path(), nil
}

// localInput hashes a local file used in place (checked against want, a
// sha256 hex digest, when given) and records it as the input name.
func (b *pipeline) localInput(name, path, want string) error {
	c, err := b.openCache()
	if err != nil {
		return err
	}
	blob, err := c.File(path)
	if err == nil && want != "" && blob.Digest().Hex != want {
		err = fmt.Errorf("sha256 mismatch: file has %s, config says sha256:%s", blob.Digest(), want)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, path, err)
	}
	b.addInput(name, path, blob.Digest().String(), blob.Size())
	return nil
}
