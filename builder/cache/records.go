package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/atomicfile"
)

// Records remember what a name resolved to, for offline builds: refs/ for
// image references (refRecord), urls/ for unpinned URLs (urlRecord). A
// record is a small JSON file named by the sha256 of the name it is for.

func recordPath(dir, kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, kind, hex.EncodeToString(sum[:])+".json")
}

func (c *Cache) refPath(ref string) string { return recordPath(c.opts.Dir, "refs", ref) }
func (c *Cache) urlPath(url string) string { return recordPath(c.opts.Dir, "urls", url) }

// readRecord decodes the record at path into v; a missing record is an
// os.ErrNotExist error.
func readRecord(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeRecord replaces the record at path with v.
func writeRecord(path string, v any) error { return writeRecordPerm(path, v, 0o644) }

// writeRecordPerm is writeRecord with the record's permissions.
func writeRecordPerm(path string, v any, perm os.FileMode) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(raw, '\n'), perm)
}
