package payload

// The image payload: every container image of the platform and the site
// (not K3s's own airgap images, which stay in the OS image; see
// K3sImagesDir) in one uncompressed OCI image layout tar, the archive
// builder/imagestore writes. It is its own artifact, outside the OS image:
//
//   - on the raw disk, the raw bytes of the tar fill the partition labelled
//     bootparam.LabelPayload (no filesystem: the tar is read in place);
//   - on the ISO, the file bootparam.ISOPayloadPath;
//   - after an upgrade brought a new payload, a file
//     ImagePayloadStateDir/<index digest hex>.tar on STATE;
//   - a netbooted node has none: it pulls from the servers.
//
// The OS image names the payload it goes with in ImagePayloadDescriptor.
// A node finds the payload whose index.json has that digest, serves it
// read-only over the OCI distribution API on ImageRegistryPort (package
// firstboot/imageregistry), and K3s's containerd pulls from it through
// registries.yaml mirror endpoints: only the images a node runs are
// copied, and nothing is imported at start.

// ImagePayloadDescriptor is the JSON ImagePayload in the OS image.
const ImagePayloadDescriptor = "/usr/lib/appliance/images/payload.json"

// ImagePayloadStateDir holds payloads on STATE, named <index hex>.tar.
const ImagePayloadStateDir = "/var/lib/appliance/payload"

// ImageRegistryPort is the TCP port a node with the payload serves it on
// (plain HTTP, GET and HEAD only: the payload's images are as public as
// the artifacts they come from).
const ImageRegistryPort = 5000

// ImagePayloadFormat is the version of the payload's layout; a node
// refuses a descriptor of another version.
const ImagePayloadFormat = 1

// ImagePayload describes one payload: what the node checks the payload it
// finds against, and what it serves.
type ImagePayload struct {
	// Format is ImagePayloadFormat.
	Format int `json:"format"`
	// Index is the digest ("sha256:<hex>") of the tar's index.json: it
	// names every image manifest by digest, each manifest its blobs, so it
	// identifies the whole payload. It is the payload's key.
	Index string `json:"index"`
	// SHA256 is the hex SHA-256 of the whole tar, and Size its length in
	// bytes.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Images are the containerd names of index.json, sorted.
	Images []string `json:"images"`
	// Registries are the registry hosts of Images ("docker.io" for Docker
	// Hub), sorted: registries.yaml mirrors each.
	Registries []string `json:"registries"`
}
