package build

import (
	"context"
	"fmt"

	"github.com/ml-appliance/appliance/builder/k3s"
	"github.com/ml-appliance/appliance/builder/rootfs"
)

// addK3s fetches (or takes from local files) the K3s release the site
// names, verified against the release's checksums, and places it in the
// tree. A site without a k3s section gets no K3s.
func (b *pipeline) addK3s(ctx context.Context, tree *rootfs.Tree) error {
	if !b.site.K3s.Enabled() {
		return nil
	}
	c, err := b.openCache()
	if err != nil {
		return err
	}
	b.log.Info("fetching K3s", "version", b.site.K3s.Version)
	rel, err := k3s.Fetch(ctx, c, b.site.K3s, k3s.FetchOptions{Logger: b.log})
	if err != nil {
		return fmt.Errorf("k3s: %w", err)
	}
	if err := k3s.Place(tree, rel); err != nil {
		return fmt.Errorf("k3s: %w", err)
	}
	b.report.Inputs = append(b.report.Inputs, rel.Inputs()...)
	return nil
}
