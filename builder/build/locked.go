package build

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/lock"
)

// checkLocked fails when the plan differs from the lock on disk.
func checkLocked(have, want *lock.Lock, lockPath string) error {
	return lockedError(lock.Diff(have, want), lockPath)
}

// lockedError is --locked's error listing diff (nil when it is empty).
func lockedError(diff []string, lockPath string) error {
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

// checkLockedBase runs before anything is pulled in a --locked build whose
// base is an image. The lock must pin os.base.image (a lock written before
// the base was pinned does not: the error says so, rather than pulling the
// base to find out). Online, the registry is asked what a tag names now
// (one manifest request, nothing downloaded): a tag moved since the lock
// was written fails the build naming both digests, where a build without
// --locked keeps the pinned digest. Offline the registry is not asked: the
// pinned digest is built from the cache.
func (b *pipeline) checkLockedBase(ctx context.Context, c *cache.Cache) error {
	ref := b.site.OS.Base.Image
	if ref == "" {
		return nil // a base pin the config no longer needs is a line of checkLocked
	}
	pin, ok := b.opts.Lock.BaseImage(ref)
	if !ok {
		var have *lock.Image
		if b.opts.Lock != nil {
			have = b.opts.Lock.Base
		}
		diff := lock.Diff(&lock.Lock{Base: have}, &lock.Lock{Base: &lock.Image{Ref: ref}})
		if have == nil {
			diff[0] += " (a lock written before the builder pinned the base has none)"
		}
		return lockedError(diff, b.opts.LockPath)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("os.base.image %s: %w", ref, err)
	}
	tag, isTag := r.(name.Tag)
	if !isTag {
		return nil // a digest names one manifest for good
	}
	if b.opts.Offline {
		b.log.Info("offline: the base image's tag is not checked against its registry; building the locked digest",
			"image", ref, "digest", pin.RegistryDigest())
		return nil
	}
	now, err := c.RegistryDigest(ctx, ref)
	if err != nil {
		return fmt.Errorf("--locked: ask the registry what os.base.image %s names now (--offline builds the locked digest from the cache without asking): %w", ref, err)
	}
	if now.Digest == pin.RegistryDigest() {
		return nil
	}
	return fmt.Errorf("--locked: os.base.image %s has moved since %s was written: the lock pins %s, the registry now gives %s "+
		"(run `builder lock` to take the new base, or set os.base.image to %s to keep the locked one)",
		ref, b.opts.LockPath, pin.RegistryDigest(), now.Digest, strings.TrimSuffix(ref, ":"+tag.TagStr())+"@"+pin.RegistryDigest())
}
