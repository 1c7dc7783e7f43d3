package k3s

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Paths in the root filesystem (relative to its root).
const (
	// BinDir holds k3s and its links (install.sh's default BIN_DIR).
	BinDir = "usr/local/bin"
	// ArchiveDir holds the airgap archive and its manifest, read-only in the
	// OS image (payload.K3sImagesDir). It is not under /var: /var lives on
	// STATE and is seeded from the image only at the first boot, so an
	// upgraded image's archive would never reach the node there. firstboot
	// links the archive into ImagesDir at every boot.
	ArchiveDir = "usr/lib/appliance/k3s/images"
	// Manifest lists ArchiveDir's archives in sha256sum format
	// (payload.K3sImagesManifest).
	Manifest = ArchiveDir + "/images.sha256"
	// ImagesDir is where K3s imports image archives from at start:
	// <data-dir>/agent/images with the default data dir /var/lib/rancher/k3s
	// (k3s-io/k3s pkg/agent/config/config.go: nodeConfig.Images =
	// filepath.Join(envInfo.DataDir, "agent", "images")). It is
	// payload.K3sAgentImagesDir.
	ImagesDir = "var/lib/rancher/k3s/agent/images"
	// No import cache (.cache.json) is baked: with one, K3s clears its
	// pins at start and skips the archives the cache lists, so their images
	// lose their pin and kubelet's image GC may delete them (k3s-io/k3s
	// pkg/agent/containerd, release-1.36: clearLabels, then watcher.go
	// processImageEvent skips cached files; fixed by k3s-io/k3s#14266,
	// not in v1.36.2). firstboot removes a cache earlier images baked
	// (firstboot/agent k3sImages).
	// SystemdDir holds the units and their env files (install.sh's default
	// SYSTEMD_DIR).
	SystemdDir = "etc/systemd/system"
)

// Links are the commands install.sh's create_symlinks points at k3s
// (ln -sf k3s ${BIN_DIR}/${cmd}: a relative link).
var Links = []string{"kubectl", "crictl", "ctr"}

// origin names what Place adds in the tree's origins.
const origin = "k3s"

// Place adds the release to tree: the binary and its links, the airgap
// archive with its manifest in ArchiveDir, and the k3s (server) and
// k3s-agent units with their empty env files. No unit is enabled. The
// airgap archive is the only image archive in the OS image: the platform's
// and the site's images are the image payload, outside it
// (firstboot/payload.ImagePayload).
func Place(tree *rootfs.Tree, r Release) error {
	if r.Binary == nil || r.Airgap == nil || r.AirgapName == "" || path.Base(r.AirgapName) != r.AirgapName {
		return errors.New("place k3s: incomplete release (binary, airgap archive and its name are required)")
	}
	if payload.K3sArchiveExtension(r.AirgapName) == "" {
		return fmt.Errorf("place k3s: airgap archive name %s is not a name K3s imports (want one ending in %s)",
			r.AirgapName, strings.Join(payload.K3sArchiveExtensions, ", "))
	}
	manifest := r.Airgap.Digest().Hex + "  " + r.AirgapName + "\n"
	opts := rootfs.FileOptions{Origin: origin}
	files := []struct {
		name string
		mode fs.FileMode
		host string
		data []byte
	}{
		{name: path.Join(BinDir, "k3s"), mode: 0o755, host: r.Binary.Path()},
		{name: Manifest, mode: 0o644, data: []byte(manifest)},
		{name: path.Join(SystemdDir, ServerService), mode: 0o644, data: unit(ServerService, "server")},
		{name: path.Join(SystemdDir, AgentService), mode: 0o644, data: unit(AgentService, "agent")},
		// install.sh create_env_file: touch, chmod 0600, then the K3S_*,
		// CONTAINERD_* and proxy variables of the installing shell (none
		// here).
		{name: path.Join(SystemdDir, ServerService+".env"), mode: 0o600, data: []byte{}},
		{name: path.Join(SystemdDir, AgentService+".env"), mode: 0o600, data: []byte{}},
	}
	for _, f := range files {
		var err error
		if f.host != "" {
			err = tree.AddFileFrom(f.name, f.mode, f.host, opts)
		} else {
			err = tree.AddFile(f.name, f.mode, f.data, opts)
		}
		if err != nil {
			return fmt.Errorf("place k3s: %w", err)
		}
	}
	if err := tree.AddFileFrom(path.Join(ArchiveDir, r.AirgapName), 0o644, r.Airgap.Path(), opts); err != nil {
		return fmt.Errorf("place k3s: %w", err)
	}
	for _, l := range Links {
		if err := tree.AddSymlink(path.Join(BinDir, l), "k3s", opts); err != nil {
			return fmt.Errorf("place k3s: %w", err)
		}
	}
	return nil
}
