package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KeptPayloads is how many payloads PrunePayloads keeps: the one a build
// used and the most recently used other one, so that switching back to the
// previous images (a revert, a second site sharing the cache) still finds
// its payload, while a cache that sees a new payload on every build does
// not grow by gigabytes each time.
const KeptPayloads = 2

// PrunePayloads marks the payload of key as used now and removes every
// payload beyond the KeptPayloads most recently used (used = the record's
// mtime). Files a build linked into its output directory stay there: a
// hard link outlives the cache's name. Entries it cannot parse the name of
// are left alone.
func (c *Cache) PrunePayloads(key string) error {
	_, record, err := c.payloadPaths(key)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := os.Chtimes(record, now, now); err != nil {
		return fmt.Errorf("cache payload: mark used: %w", err)
	}
	dir := filepath.Join(c.opts.Dir, PayloadsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cache payloads: %w", err)
	}
	type used struct {
		key  string
		when time.Time
	}
	var kept []used
	for _, e := range entries {
		k, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !payloadKey.MatchString(k) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		kept = append(kept, used{k, info.ModTime()})
	}
	slices.SortFunc(kept, func(a, b used) int { return b.when.Compare(a.when) })
	var errs []error
	for _, u := range kept[min(KeptPayloads, len(kept)):] {
		if u.key == key {
			continue
		}
		tar, rec, _ := c.payloadPaths(u.key)
		c.log.Info("removing cache payload no build used lately", "key", u.key, "used", u.when.UTC().Format(time.RFC3339))
		// The record first: a tar without a record is a miss, and the next
		// store renames over it.
		errs = append(errs, removePayload(rec, tar))
	}
	return errors.Join(errs...)
}
