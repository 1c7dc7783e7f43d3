package build

import (
	"context"

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

// addBase puts the planned base OS into the tree and records it.
func (b *pipeline) addBase(ctx context.Context, tree *rootfs.Tree) error {
	base := b.planned.Base
	b.report.Inputs = append(b.report.Inputs, base.Input)
	b.log.Info("reading base OS", "kind", b.site.OS.Base.Kind())
	return baseos.AddTo(ctx, tree, base.Source)
}

// localInput hashes a local file used in place (checked against want, a
// sha256 hex digest, when given) and records it as the input name.
func (b *pipeline) localInput(name, path, want string) error {
	c, err := b.openCache()
	if err != nil {
		return err
	}
	in, err := localFile(c, name, path, want)
	if err != nil {
		return err
	}
	b.report.Inputs = append(b.report.Inputs, in)
	return nil
}
