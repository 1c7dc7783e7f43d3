package k3s

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ml-appliance/appliance/builder/cache"
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

// Archive is an image archive K3s imports at start besides the release's
// airgap archive (the platform's images).
type Archive struct {
	// Name is the file name in ArchiveDir; its ending must be one K3s
	// imports (payload.K3sArchiveExtensions).
	Name string
	// Blob is the archive's content.
	Blob *cache.Blob
}

// Place adds the release to tree: the binary and its links, the airgap
// archive and any extra archives with their manifest in ArchiveDir, and
// the k3s (server) and k3s-agent units with their empty env files. No unit
// is enabled.
func Place(tree *rootfs.Tree, r Release, extra ...Archive) error {
	if r.Binary == nil || r.Airgap == nil || r.AirgapName == "" || path.Base(r.AirgapName) != r.AirgapName {
		return errors.New("place k3s: incomplete release (binary, airgap archive and its name are required)")
	}
	if payload.K3sArchiveExtension(r.AirgapName) == "" {
		return fmt.Errorf("place k3s: airgap archive name %s is not a name K3s imports (want one ending in %s)",
			r.AirgapName, strings.Join(payload.K3sArchiveExtensions, ", "))
	}
	archives := append([]Archive{{Name: r.AirgapName, Blob: r.Airgap}}, extra...)
	var manifest strings.Builder
	for _, a := range archives {
		if a.Blob == nil || path.Base(a.Name) != a.Name || payload.K3sArchiveExtension(a.Name) == "" {
			return fmt.Errorf("place k3s: image archive %q: want a file name ending in %s, with content", a.Name, strings.Join(payload.K3sArchiveExtensions, ", "))
		}
		manifest.WriteString(a.Blob.Digest().Hex + "  " + a.Name + "\n")
	}
	opts := rootfs.FileOptions{Origin: origin}
	files := []struct {
		name string
		mode fs.FileMode
		host string
		data []byte
	}{
		{name: path.Join(BinDir, "k3s"), mode: 0o755, host: r.Binary.Path()},
		{name: Manifest, mode: 0o644, data: []byte(manifest.String())},
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
	for _, a := range archives {
		if err := tree.AddFileFrom(path.Join(ArchiveDir, a.Name), 0o644, a.Blob.Path(), opts); err != nil {
			return fmt.Errorf("place k3s: %w", err)
		}
	}
	for _, l := range Links {
		if err := tree.AddSymlink(path.Join(BinDir, l), "k3s", opts); err != nil {
			return fmt.Errorf("place k3s: %w", err)
		}
	}
	return nil
}
