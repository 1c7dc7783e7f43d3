package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"
	"time"
)

// TestPrunePayloadsKeepsTheTwoLatestUsed stores four payloads, uses the
// oldest again, and checks that pruning keeps only it and the one used
// most recently before it, and that a file linked out of the cache
// survives the pruning of its entry.
func TestPrunePayloadsKeepsTheTwoLatestUsed(t *testing.T) {
	c, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i, content := range []string{"a", "b", "c", "d"} {
		sum := sha256.Sum256([]byte(content))
		key := hex.EncodeToString(sum[:])
		keys = append(keys, key)
		p, err := c.StorePayload(key, func(w io.Writer) error { _, err := io.WriteString(w, content); return err })
		if err != nil {
			t.Fatal(err)
		}
		_, rec, _ := c.payloadPaths(key)
		old := time.Now().Add(time.Duration(i-10) * time.Hour)
		if err := os.Chtimes(rec, old, old); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := os.Link(p.Path, c.opts.Dir+"/linked-out.tar"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.PrunePayloads(keys[0]); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false, true} {
		p, err := c.Payload(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := p != nil; got != want {
			t.Errorf("payload %d kept = %v, want %v", i, got, want)
		}
	}
	if data, err := os.ReadFile(c.opts.Dir + "/linked-out.tar"); err != nil || string(data) != "b" {
		t.Errorf("file linked out of a pruned entry: %q, %v", data, err)
	}
}
