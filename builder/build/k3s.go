package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/ml-appliance/appliance/builder/k3s"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
)

// addCluster places the planned K3s release, the platform's charts and
// manifests in the tree and stages the image payload (addPayload). A site
// without a k3s section gets neither.
func (b *pipeline) addCluster(tree *rootfs.Tree) error {
	p := b.planned
	if p.K3s == nil {
		return nil
	}
	if p.Platform != nil {
		if err := b.addPlatform(tree, p); err != nil {
			return err
		}
	}
	if err := k3s.Place(tree, *p.K3s); err != nil {
		return fmt.Errorf("k3s: %w", err)
	}
	b.report.Inputs = append(b.report.Inputs, p.K3s.Inputs()...)
	return nil
}

// addPlatform places charts and manifests, stages the image payload when
// there are images, and records all of it in the report.
func (b *pipeline) addPlatform(tree *rootfs.Tree, res *Plan) error {
	if len(res.Images) > 0 {
		var err error
		if b.payload, err = b.addPayload(tree, res.Images); err != nil {
			return err
		}
	}
	if err := platform.Place(tree, res.Platform); err != nil {
		return err
	}
	b.reportPlatform(res)
	if m := res.Platform.Manifests; m != nil {
		for _, f := range m.Files() {
			sum := sha256.Sum256(f.Data)
			b.addInput("site-manifest "+f.Name, f.Source, "sha256:"+hex.EncodeToString(sum[:]), int64(len(f.Data)))
		}
	}
	return nil
}

func (b *pipeline) reportPlatform(res *Plan) {
	for _, c := range res.Platform.Components {
		b.report.Charts = append(b.report.Charts, report.Chart{Component: c.Catalog.Name, Origin: c.Origin, Name: c.Chart.Name,
			Version: c.Chart.Version, Repo: c.Repo, Path: c.Local, Digest: c.Chart.SHA256, Size: c.Chart.Size})
	}
	for i, img := range res.Images {
		ri := report.Image{Name: img.Name, Digest: img.Digest.String(), Size: img.Size,
			Components: res.Platform.Images[i].Components}
		if img.IndexDigest.Hex != "" {
			ri.Index = img.IndexDigest.String()
		}
		b.report.Images = append(b.report.Images, ri)
	}
}

// ReadLock reads the lock at path if there is one; (nil, nil) if not.
func ReadLock(path string) (*lock.Lock, error) {
	ok, err := lock.Exists(path)
	if err != nil || !ok {
		return nil, err
	}
	return lock.Read(path)
}
