package payload

import "strings"

// K3s image archives: the builder puts them read-only in the OS image under
// K3sImagesDir with a manifest; firstboot links each into K3sAgentImagesDir
// (on STATE) at every boot, so an upgraded image's archives reach the node
// and are stored once.
const (
	// K3sImagesDir holds the airgap image archives in the OS image.
	K3sImagesDir = "/usr/lib/appliance/k3s/images"
	// K3sImagesManifest lists the archives of K3sImagesDir in sha256sum
	// format ("<64 hex>  <file name>" per line), written by the builder.
	// firstboot names each link by the digest it reads here and hashes
	// nothing itself.
	K3sImagesManifest = K3sImagesDir + "/images.sha256"
	// K3sAgentImagesDir is where K3s imports image archives from at start
	// (<data-dir>/agent/images with the default data dir).
	K3sAgentImagesDir = "/var/lib/rancher/k3s/agent/images"
)

// K3sArchiveExtensions are the file name endings K3s imports image archives
// by (k3s-io/k3s pkg/agent/containerd/containerd.go, preloadFile): any other
// name in the images directory is skipped.
var K3sArchiveExtensions = []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.lz4", ".tar.bz2", ".tbz"}

// K3sArchiveExtension is the longest of K3sArchiveExtensions that name ends
// in (case ignored), "" when K3s would not import a file of that name.
func K3sArchiveExtension(name string) string {
	best := ""
	for _, ext := range K3sArchiveExtensions {
		if strings.HasSuffix(strings.ToLower(name), ext) && len(ext) > len(best) {
			best = ext
		}
	}
	return best
}

// K3s as the builder places it (install.sh's layout): the binary, and the
// server and agent units, neither enabled; firstboot starts the one for the
// node's role.
const (
	K3sBinaryPath = "/usr/local/bin/k3s"
	K3sServerUnit = "k3s.service"
	K3sAgentUnit  = "k3s-agent.service"
	// K3sConfigPath is K3s's config file; firstboot writes it (0600: it
	// holds the cluster token).
	K3sConfigPath = "/etc/rancher/k3s/config.yaml"
	// K3sKubeconfigPath is where a K3s server writes its admin kubeconfig.
	K3sKubeconfigPath = "/etc/rancher/k3s/k3s.yaml"
)
