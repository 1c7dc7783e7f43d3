package upgrade

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// TestStage: a verified copy of a bundle served over HTTP lands in the
// staging directory, whole, replaces an earlier copy, and is itself a
// bundle Apply takes; a corrupted bundle leaves the earlier copy as it
// was and nothing half-copied.
func TestStage(t *testing.T) {
	n := newTestNode(t)
	old := n.newBundle("1.5.0", nil)
	b := n.newBundle("2.0.0", nil)
	const dir = "/var/lib/appliance/upgrade/cluster"
	opts := StageOptions{Bundle: old.dir, Root: n.root, Dir: dir, HTTP: noWait()}
	if _, _, err := Stage(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&cutFirst{dir: b.dir, cuts: 1, seen: map[string]int{}})
	defer srv.Close()
	opts.Bundle = srv.URL + "/manifest.json"
	m, path, err := Stage(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.Release.Version != "2.0.0" || path != dir+"/lab-upgrade" {
		t.Errorf("staged %s at %s, want 2.0.0 at %s/lab-upgrade", m.Release.Version, path, dir)
	}
	staged := filepath.Join(n.root, path)
	for _, name := range []string{upgradebundle.ManifestFile, upgradebundle.SignatureFile, upgradebundle.OSImageFile, upgradebundle.KernelFile, upgradebundle.InitrdFile} {
		want, _ := os.ReadFile(filepath.Join(b.dir, name))
		if got, err := os.ReadFile(filepath.Join(staged, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("staged %s differs from the bundle's (%v)", name, err)
		}
	}
	if names := dirList(t, filepath.Join(n.root, dir)); names != "lab-upgrade" {
		t.Errorf("staging directory holds %s, want lab-upgrade alone", names)
	}

	flipByte(t, filepath.Join(b.dir, upgradebundle.InitrdFile), 100)
	if _, _, err := Stage(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "corrupted bundle") {
		t.Errorf("corrupted bundle staged: %v", err)
	}
	if names := dirList(t, filepath.Join(n.root, dir)); names != "lab-upgrade" {
		t.Errorf("after a failed stage, the staging directory holds %s", names)
	}
	if got, _ := os.ReadFile(filepath.Join(staged, upgradebundle.ManifestFile)); !bytes.Contains(got, []byte(`"version": "2.0.0"`)) {
		t.Errorf("the earlier copy changed")
	}

	if _, err := Apply(context.Background(), n.options(staged)); err != nil {
		t.Fatalf("apply the staged copy: %v", err)
	}
	if got := n.boots(); got != "b" {
		t.Errorf("systemd-boot would boot slot %s, want b", got)
	}
}

// TestStageRefuses: a bundle this node would not apply is not staged.
func TestStageRefuses(t *testing.T) {
	n := newTestNode(t)
	b := n.newBundle("0.5.0", nil)
	_, _, err := Stage(context.Background(), StageOptions{Bundle: b.dir, Root: n.root, Dir: "/stage"})
	if err == nil || !strings.HasPrefix(err.Error(), "stage the bundle: the bundle's release 0.5.0 is older than the running 1.0.0") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.root, "stage")); err == nil {
		t.Errorf("a refused stage made the staging directory")
	}
}
