package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// Payloads are written image payloads (the OCI archive of every image an
// appliance carries), kept for reuse: payloads/<key>.tar, read-only, and
// beside it <key>.json recording its sha256 and size, so that a rebuild
// with the same key takes both from here instead of writing and hashing
// gigabytes again. The caller derives the key from what determines the
// payload's bytes (builder/build: the sha256 of its index.json, its
// mtime and format).
//
// What Payload checks: the tar is a regular file of the size its record
// gives. What it does not: content changed in place without a change of
// size (a disk error, or someone writing into a file a build linked into
// its output directory, which is the same file), which only hashing all
// of it would find; remove payloads/ to be rid of such an entry.
// PrunePayloads keeps the two most recently used (payloadprune.go).

// PayloadsDir is the directory of payloads in the cache.
const PayloadsDir = "payloads"

// payloadKey is the grammar of a payload key: a sha256 in hex.
var payloadKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Payload is a payload kept in the cache.
type Payload struct {
	// Path is the tar's path in the cache. It is read-only (0444): link it
	// or copy it, never write to it.
	Path string
	// SHA256 is the tar's sha256 in hex, and Size its length, as recorded
	// when it was written.
	SHA256 string
	Size   int64
}

// payloadRecord is <key>.json.
type payloadRecord struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func (c *Cache) payloadPaths(key string) (tar, record string, err error) {
	if !payloadKey.MatchString(key) {
		return "", "", fmt.Errorf("payload key %q: want a sha256 in hex", key)
	}
	dir := filepath.Join(c.opts.Dir, PayloadsDir)
	return filepath.Join(dir, key+".tar"), filepath.Join(dir, key+".json"), nil
}

// Payload returns the payload kept under key; (nil, nil) when there is
// none (no record). A damaged entry (a record that does not decode or is
// not for key, a tar that is missing, not a regular file, or not of the
// recorded size) is removed, logged and reported as a miss, so that it is
// written again.
func (c *Cache) Payload(key string) (*Payload, error) {
	tarPath, recordPath, err := c.payloadPaths(key)
	if err != nil {
		return nil, err
	}
	var rec payloadRecord
	err = readRecord(recordPath, &rec)
	if errors.Is(err, os.ErrNotExist) {
		// No record: nothing kept, or a tar whose writer stopped (or has
		// not yet come) between its rename and the record's. A store
		// renames over it.
		return nil, nil
	}
	damage := ""
	if err != nil {
		damage = err.Error()
	} else if rec.Key != key || !payloadKey.MatchString(rec.SHA256) {
		damage = fmt.Sprintf("record is for key %q with sha256 %q", rec.Key, rec.SHA256)
	} else if info, err := os.Lstat(tarPath); err != nil {
		damage = err.Error()
	} else if !info.Mode().IsRegular() {
		damage = "tar is " + info.Mode().Type().String() + ", not a regular file"
	} else if info.Size() != rec.Size {
		damage = fmt.Sprintf("tar is %d bytes, its record says %d", info.Size(), rec.Size)
	}
	if damage != "" {
		c.log.Warn("removing damaged cache payload", "key", key, "damage", damage)
		return nil, removePayload(tarPath, recordPath)
	}
	return &Payload{Path: tarPath, SHA256: rec.SHA256, Size: rec.Size}, nil
}

// removePayload removes an entry's tar and record ("" for none), either
// of which may be missing.
func removePayload(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove damaged cache payload: %w", err)
		}
	}
	return nil
}

// StorePayload keeps what write writes as the payload under key and
// returns it. write gets a temporary file in the cache, hashed as it is
// written; only when write succeeded is the file made read-only and
// renamed to payloads/<key>.tar, then its record written: an interrupted
// or failed write leaves nothing under either name.
func (c *Cache) StorePayload(key string, write func(io.Writer) error) (*Payload, error) {
	tarPath, recordPath, err := c.payloadPaths(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(tarPath), 0o755); err != nil {
		return nil, fmt.Errorf("cache payload: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(c.opts.Dir, "tmp"), "payload-*")
	if err != nil {
		return nil, fmt.Errorf("cache payload: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h)}
	err = write(cw)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	p := &Payload{Path: tarPath, SHA256: hex.EncodeToString(h.Sum(nil)), Size: cw.n}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return nil, fmt.Errorf("cache payload: %w", err)
	}
	if err := os.Rename(tmp.Name(), tarPath); err != nil {
		return nil, fmt.Errorf("cache payload: %w", err)
	}
	if err := writeRecordPerm(recordPath, payloadRecord{Key: key, SHA256: p.SHA256, Size: p.Size}, 0o444); err != nil {
		return nil, errors.Join(fmt.Errorf("cache payload: %w", err), removePayload(tarPath))
	}
	return p, nil
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
