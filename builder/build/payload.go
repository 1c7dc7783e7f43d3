package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/imagestore"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// The image payload: every image of the platform and the site's own
// workloads (K3s's airgap images stay in the OS image) in one OCI archive,
// its own artifact <site>-payload.tar beside the OS image, which names it
// in payload.ImagePayloadDescriptor. It is kept in the build cache by a
// key of what determines its bytes (payloadKey), so a rebuild of the same
// images links the kept file into its output directory instead of writing
// it again, and takes its sha256 from the cache's record instead of
// hashing it.

// PayloadKind is the payload's artifact kind in the build report.
const PayloadKind = "payload"

// PayloadName is the payload artifact's file name for site.
func PayloadName(site string) string { return site + "-payload.tar" }

// PayloadDetails are the payload artifact's details in the build report.
type PayloadDetails struct {
	// Format is payload.ImagePayloadFormat.
	Format int `json:"format"`
	// Index is the digest of the archive's index.json: the payload's key
	// on a node (payload.ImagePayload.Index).
	Index string `json:"index"`
	// Images is how many images index.json names.
	Images int `json:"images"`
}

// payloadKey keys a payload in the cache: the sha256 of everything its
// bytes follow from, the layout's format, imagestore's writer version,
// index.json's digest (which names every blob by digest) and the mtime of
// every tar entry.
func payloadKey(index string, modTime time.Time) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "appliance image payload\nformat %d\narchive %d\nindex %s\nmtime %d\n",
		payload.ImagePayloadFormat, imagestore.ArchiveVersion, index, modTime.Unix()))
	return hex.EncodeToString(sum[:])
}

// stagedPayload is the payload addPayload staged.
type stagedPayload struct {
	// path is the staged file; sha256 (hex) and size are the cache's record.
	path   string
	sha256 string
	size   int64
}

// addPayload stages the payload of images as <site>-payload.tar (kept in
// the cache, written only when the cache has no payload of its key),
// records it in the report and places its descriptor in the tree.
func (b *pipeline) addPayload(tree *rootfs.Tree, images []imagestore.Image) (*stagedPayload, error) {
	index, names, err := imagestore.Index(images)
	if err != nil {
		return nil, fmt.Errorf("image payload: %w", err)
	}
	sum := sha256.Sum256(index)
	desc := payload.ImagePayload{Format: payload.ImagePayloadFormat, Index: "sha256:" + hex.EncodeToString(sum[:]),
		Images: names, Registries: registries(names)}
	key := payloadKey(desc.Index, b.modTime)
	kept, err := b.keptPayload(key, desc.Index, images)
	if err != nil {
		return nil, err
	}
	if err := b.cache.PrunePayloads(key); err != nil {
		b.log.Warn("cache payloads not pruned", "err", err)
	}
	name := PayloadName(b.site.Metadata.Name)
	if err := linkOrCopy(kept.Path, b.dir.Path(name), kept.Size); err != nil {
		return nil, fmt.Errorf("image payload: %w", err)
	}
	desc.SHA256, desc.Size = kept.SHA256, kept.Size
	b.report.Artifacts = append(b.report.Artifacts, report.Artifact{Kind: PayloadKind, Path: name, Size: kept.Size,
		SHA256: kept.SHA256, Details: PayloadDetails{Format: desc.Format, Index: desc.Index, Images: len(names)}})
	data, err := json.MarshalIndent(desc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("image payload descriptor: %w", err)
	}
	if err := tree.AddFile(payload.ImagePayloadDescriptor, 0o644, append(data, '\n'), rootfs.FileOptions{Origin: "payload"}); err != nil {
		return nil, fmt.Errorf("image payload descriptor: %w", err)
	}
	return &stagedPayload{path: b.dir.Path(name), sha256: kept.SHA256, size: kept.Size}, nil
}

// keptPayload returns the cache's payload of key, writing it first when
// the cache has none.
func (b *pipeline) keptPayload(key, index string, images []imagestore.Image) (*cache.Payload, error) {
	kept, err := b.cache.Payload(key)
	if err != nil {
		return nil, fmt.Errorf("image payload: %w", err)
	}
	if kept != nil {
		b.log.Info("image payload reused from the cache", "index", index, "bytes", kept.Size, "path", kept.Path)
		return kept, nil
	}
	b.log.Info("writing image payload", "images", len(images), "index", index)
	task := b.opts.Progress.Task("write image payload", 0, 0)
	kept, err = b.cache.StorePayload(key, func(w io.Writer) error {
		return imagestore.Write(w, images, imagestore.WriteOptions{ModTime: b.modTime, Progress: task})
	})
	task.Done(err)
	if err != nil {
		return nil, fmt.Errorf("image payload: %w", b.dropDamagedBlob(err))
	}
	b.log.Info("image payload written", "bytes", kept.Size, "sha256", kept.SHA256)
	return kept, nil
}

// dropDamagedBlob adds to err, when it is about a damaged cache blob, that
// the blob was removed so the next build fetches it again. A pinned
// image's layers are checked by size only until they are read
// (cache.PinnedImage), so this is where damage in place is found.
func (b *pipeline) dropDamagedBlob(err error) error {
	var damaged *imagestore.DamagedBlobError
	if !errors.As(err, &damaged) {
		return err
	}
	if _, verr := b.cache.Blob(damaged.Digest); verr != nil {
		return fmt.Errorf("%w (%v; the next build fetches it again)", err, verr)
	}
	return err
}

// registries are the registry hosts of containerd names (which always
// start with one: docker.io/library/nginx:1.27.0), sorted, each once.
func registries(names []string) []string {
	var out []string
	for _, n := range names {
		host, _, _ := strings.Cut(n, "/")
		out = append(out, host)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
