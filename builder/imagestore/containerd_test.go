package imagestore

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// containerdConfig is a minimal containerd 1.6 config (version 2 schema)
// with everything under one temp dir and the CRI plugin off: importing
// needs only the content and image stores.
const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %[3]q

[ttrpc]
  address = "%[3]s.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
`

// containerd is a containerd daemon of the host's Debian package, run with
// its own root, state and socket under a test's temp dir.
type containerd struct {
	sock string
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	for _, tool := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian's containerd package (apt-get install -y containerd): %v", tool, err)
		}
	}
	dir := t.TempDir()
	c := &containerd{sock: filepath.Join(dir, "c.sock")}
	cfg := filepath.Join(dir, "config.toml")
	conf := fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, filepath.Join(dir, "opt"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testfixture.StartProcess(t, "containerd", "--config", cfg)
	p.WaitReady(t, "containerd on "+c.sock, 20*time.Second, func() error {
		_, err := c.ctr("version")
		return err
	})
	return c
}

// ctr runs ctr against the daemon in the k8s.io namespace, where K3s
// imports.
func (c *containerd) ctr(args ...string) (string, error) {
	out, err := exec.Command("ctr", append([]string{"-a", c.sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// TestContainerdImportsArchive imports an archive into Debian's
// containerd 1.6 and checks every image resolves by its name, the
// multi-arch one with only its amd64 blobs. This is not K3s's import path
// (K3s v1.36 embeds containerd 2.3 and names each image
// name@<registry digest> itself after importing): the k3simport module
// beside this package checks that one.
//
// K3s imports with client.Import(ctx, r, WithAllPlatforms(true),
// WithSkipMissing()) (k3s pkg/agent/containerd/containerd.go). Debian 12's
// ctr (containerd 1.6.20) has no skip-missing option; its closest
// equivalent is --platform linux/amd64, which walks only the amd64
// manifest, so the absent arm64 blobs are never looked for. --no-unpack:
// the test needs no snapshots.
func TestContainerdImportsArchive(t *testing.T) {
	f := newFixture(t)
	imgs := f.pull(t, f.refA, f.refB, f.refMulti)
	archive := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteFile(archive, imgs, WriteOptions{ModTime: epoch}); err != nil {
		t.Fatal(err)
	}
	c := startContainerd(t)
	if _, err := c.ctr("images", "import", "--platform", "linux/amd64", "--no-unpack", archive); err != nil {
		t.Fatal(err)
	}
	ls, err := c.ctr("images", "ls")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{} // name -> digest
	for _, line := range strings.Split(strings.TrimSpace(ls), "\n")[1:] {
		fields := strings.Fields(line)
		listed[fields[0]] = fields[2]
	}
	t.Logf("ctr images ls:\n%s", ls)
	if len(listed) != len(imgs) {
		t.Errorf("containerd lists %d images, want %d:\n%s", len(listed), len(imgs), ls)
	}
	for _, img := range imgs {
		n := img.Name
		if got := listed[n]; got != img.RegistryDigest().String() {
			t.Errorf("containerd image %s has digest %q, want %s\n%s", n, got, img.RegistryDigest(), ls)
		}
		check, err := c.ctr("images", "check", "name=="+n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(check, "complete") || strings.Contains(check, "incomplete") {
			t.Errorf("ctr images check %s: not complete:\n%s", n, check)
		}
	}
	if _, err := c.ctr("content", "get", testfixture.Digest(t, f.base).String()); err != nil {
		t.Errorf("shared layer not in containerd's content store: %v", err)
	}
	armLayer := blobsOf(t, f.arm)[2]
	if out, err := c.ctr("content", "get", armLayer.String()); err == nil {
		t.Errorf("arm64 layer %s is in containerd's content store (%d bytes)", armLayer, len(out))
	}
}
