package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testPayloadKey = strings.Repeat("0123456789abcdef", 4)

func storeTestPayload(t *testing.T, c *Cache, key, content string) *Payload {
	t.Helper()
	p, err := c.StorePayload(key, func(w io.Writer) error {
		_, err := io.WriteString(w, content)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPayloadIsKeptAndFoundByKey(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, dir, true)
	if p, err := c.Payload(testPayloadKey); p != nil || err != nil {
		t.Fatalf("empty cache: %+v, %v; want a miss", p, err)
	}
	content := strings.Repeat("payload ", 1000)
	sum := sha256.Sum256([]byte(content))
	stored := storeTestPayload(t, c, testPayloadKey, content)
	want := Payload{Path: filepath.Join(dir, PayloadsDir, testPayloadKey+".tar"), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content))}
	if *stored != want {
		t.Errorf("stored %+v, want %+v", *stored, want)
	}
	found, err := newCache(t, dir, true).Payload(testPayloadKey)
	if err != nil || found == nil || *found != want {
		t.Fatalf("found %+v, %v; want %+v", found, err, want)
	}
	for _, p := range []string{want.Path, strings.TrimSuffix(want.Path, ".tar") + ".json"} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o444 {
			t.Errorf("%s: %v, want mode 0444", p, err)
		}
	}
	if got, _ := os.ReadFile(want.Path); string(got) != content {
		t.Errorf("kept tar has %d bytes, want the %d written", len(got), len(content))
	}
}

func TestDamagedPayloadIsAMiss(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(tar, record string) error
	}{
		{"truncated tar", func(tar, _ string) error { return os.Truncate(tar, 10) }},
		{"tar grown", func(tar, _ string) error {
			f, err := os.OpenFile(tar, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("more")
			return err
		}},
		{"tar missing", func(tar, _ string) error { return os.Remove(tar) }},
		{"tar a directory", func(tar, _ string) error { return errors.Join(os.Remove(tar), os.Mkdir(tar, 0o755)) }},
		{"record missing", func(_, record string) error { return os.Remove(record) }},
		{"record garbage", func(_, record string) error { return os.WriteFile(record, []byte("{"), 0o644) }},
		{"record for another key", func(_, record string) error {
			return os.WriteFile(record, []byte(`{"key":"`+strings.Repeat("f", 64)+`","sha256":"`+strings.Repeat("a", 64)+`","size":800}`), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := newCache(t, dir, true)
			p := storeTestPayload(t, c, testPayloadKey, strings.Repeat("x", 800))
			record := strings.TrimSuffix(p.Path, ".tar") + ".json"
			if err := tc.damage(p.Path, record); err != nil {
				t.Fatal(err)
			}
			got, err := c.Payload(testPayloadKey)
			if got != nil || err != nil {
				t.Fatalf("damaged entry: %+v, %v; want a miss", got, err)
			}
			// A damaged record goes, and with it the tar (but for a tar
			// without a record, which a store renames over).
			if _, err := os.Lstat(record); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("record left: %v", err)
			}
			if info, err := os.Lstat(p.Path); err == nil && !info.IsDir() && tc.name != "record missing" {
				t.Errorf("tar left")
			}
			// Stored again, it is found.
			again := storeTestPayload(t, c, testPayloadKey, strings.Repeat("y", 700))
			if found, err := c.Payload(testPayloadKey); err != nil || found == nil || *found != *again {
				t.Errorf("stored again: found %+v, %v; want %+v", found, err, again)
			}
		})
	}
}

func TestFailedPayloadStoreLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, dir, true)
	boom := errors.New("blob damaged")
	_, err := c.StorePayload(testPayloadKey, func(w io.Writer) error {
		io.WriteString(w, "half a payload")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's", err)
	}
	for _, d := range []string{PayloadsDir, "tmp"} {
		if names, _ := os.ReadDir(filepath.Join(dir, d)); len(names) != 0 {
			t.Errorf("%s holds %v after a failed store", d, names)
		}
	}
	if _, err := c.Payload("../../etc/passwd"); err == nil || !strings.Contains(err.Error(), "want a sha256 in hex") {
		t.Errorf("key outside the grammar: %v", err)
	}
}
