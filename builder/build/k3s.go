package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/imagestore"
	"github.com/ml-appliance/appliance/builder/k3s"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
)

// PlatformArchive is the platform's image archive in K3s's images
// directory: one OCI archive, so a layer shared by many images is shipped
// once.
const PlatformArchive = "appliance-platform.tar"

// addCluster resolves the K3s release and the platform (with the lock's
// pins), checks the lock when the build is --locked, and places K3s, the
// platform's image archive, charts and manifests in the tree. A site
// without a k3s section gets neither.
func (b *pipeline) addCluster(ctx context.Context, tree *rootfs.Tree) error {
	if !b.site.K3s.Enabled() {
		if b.opts.Locked {
			return checkLocked(b.opts.Lock, lock.New(), b.opts.LockPath)
		}
		return nil
	}
	c, err := b.openCache()
	if err != nil {
		return err
	}
	res, err := Resolve(ctx, b.site, ResolveOptions{Cache: c, Pins: b.opts.Lock, Catalog: b.opts.Catalog, Logger: b.log, Progress: b.opts.Progress,
		LocalCharts: b.scratch, ModTime: b.modTime})
	if err != nil {
		return err
	}
	if b.opts.Locked {
		if err := checkLocked(b.opts.Lock, res.Lock, b.opts.LockPath); err != nil {
			return err
		}
	}
	var extra []k3s.Archive
	if res.Platform != nil {
		a, err := b.writePlatform(tree, res)
		if err != nil {
			return err
		}
		extra = append(extra, a)
	}
	if err := k3s.Place(tree, *res.K3s, extra...); err != nil {
		return fmt.Errorf("k3s: %w", err)
	}
	b.report.Inputs = append(b.report.Inputs, res.K3s.Inputs()...)
	return nil
}

// writePlatform writes the image archive (into scratch, for K3s's images
// directory), places charts and manifests, and records all of it in the
// report.
func (b *pipeline) writePlatform(tree *rootfs.Tree, res *Resolution) (k3s.Archive, error) {
	path := filepath.Join(b.scratch, PlatformArchive)
	b.log.Info("writing platform image archive", "images", len(res.Images))
	task := b.opts.Progress.Task("write "+PlatformArchive, 0, 0)
	err := imagestore.WriteFile(path, res.Images, imagestore.WriteOptions{ModTime: b.modTime, Progress: task})
	task.Done(err)
	if err != nil {
		return k3s.Archive{}, err
	}
	blob, err := b.cache.File(path)
	if err != nil {
		return k3s.Archive{}, err
	}
	if err := platform.Place(tree, res.Platform); err != nil {
		return k3s.Archive{}, err
	}
	b.reportPlatform(res)
	b.addInput("platform-images", PlatformArchive, blob.Digest().String(), blob.Size())
	if m := res.Platform.Manifests; m != nil {
		for _, f := range m.Files() {
			sum := sha256.Sum256(f.Data)
			b.addInput("site-manifest "+f.Name, f.Source, "sha256:"+hex.EncodeToString(sum[:]), int64(len(f.Data)))
		}
	}
	return k3s.Archive{Name: PlatformArchive, Blob: blob}, nil
}

func (b *pipeline) reportPlatform(res *Resolution) {
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
