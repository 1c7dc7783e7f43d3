// Package k3s owns K3s in the appliance: which release the site names,
// fetching and verifying its assets, and placing them in the root filesystem
// the way K3s's own install script (k3s-io/k3s install.sh) lays out a node.
//
// Fetch downloads a release's sha256sum-amd64.txt, then the k3s binary and
// the airgap image archive through the build cache, each verified against
// the checksum file; or it takes a local binary and archive as they are.
// Place puts the binary in /usr/local/bin with its kubectl, crictl and ctr
// links, the archive with its digest manifest read-only under
// /usr/lib/appliance/k3s/images (firstboot links it into the directory K3s
// imports images from, on STATE, at every boot), and the k3s (server) and
// k3s-agent units, neither enabled: firstboot enables the one for the node's
// role.
//
// Typical use:
//
//	rel, err := k3s.Fetch(ctx, c, s.K3s, k3s.FetchOptions{Logger: log})
//	...
//	err = k3s.Place(tree, rel)
//	inputs = append(inputs, rel.Inputs()...)
package k3s

import (
	"net/url"
	"strings"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/report"
)

// Release asset names for amd64 (install.sh: download_hash fetches
// sha256sum-${ARCH}.txt and download_binary fetches k3s${SUFFIX}, with an
// empty SUFFIX on amd64; the airgap archive is published beside them, see
// the k3s-io/docs installation/airgap.md download example).
const (
	ChecksumsAsset = "sha256sum-amd64.txt"
	BinaryAsset    = "k3s"
	// AirgapAsset is the zstd airgap archive: every supported K3s release
	// publishes it (with .tar and .tar.gz variants), it is the smallest, and
	// K3s imports .tar.zst directly. No fallback to another variant: a
	// release without it fails, naming it.
	AirgapAsset = "k3s-airgap-images-amd64.tar.zst"
)

// Release is a verified K3s release, ready to place.
type Release struct {
	// Version is the release tag; empty for local files.
	Version string
	// Binary is the k3s executable; Airgap the image archive.
	Binary, Airgap *cache.Blob
	// AirgapName is the archive's file name in the images directory; its
	// ending tells K3s how to decompress it.
	AirgapName string
	// ChecksumsDigest is "sha256:<hex>" of the release's sha256sum-amd64.txt;
	// empty for local files.
	ChecksumsDigest string
	// ChecksumsSize is the checksum file's length in bytes.
	ChecksumsSize int64
	// BinarySource, AirgapSource and ChecksumsSource say where each came
	// from (URL or path), for the build report.
	BinarySource, AirgapSource, ChecksumsSource string
}

// AssetURL is where a release asset is downloaded from: the mirror (a
// release base such as site.DefaultK3sMirror), the version with "+" escaped
// as %2B (as the K3s docs' own download URLs spell it), and the asset name.
func AssetURL(mirror, version, asset string) string {
	// url.PathEscape leaves "+" alone in a path segment; K3s's release
	// URLs escape it.
	v := strings.ReplaceAll(url.PathEscape(version), "+", "%2B")
	return strings.TrimRight(mirror, "/") + "/" + v + "/" + asset
}

// Inputs are the build report's entries for the release.
func (r Release) Inputs() []report.Input {
	var in []report.Input
	if r.ChecksumsDigest != "" {
		in = append(in, report.Input{Name: "k3s-checksums", Source: r.ChecksumsSource, Digest: r.ChecksumsDigest, Size: r.ChecksumsSize})
	}
	for _, a := range []struct {
		name, source string
		blob         *cache.Blob
	}{{"k3s", r.BinarySource, r.Binary}, {"k3s-airgap-images", r.AirgapSource, r.Airgap}} {
		if a.blob != nil {
			in = append(in, report.Input{Name: a.name, Source: a.source, Digest: a.blob.Digest().String(), Size: a.blob.Size()})
		}
	}
	return in
}
