package site

import "strings"

// K3s selects the K3s release baked into the image: either Version (the
// builder downloads the release's k3s binary and airgap image archive from
// Mirror and verifies both against the release's sha256sum-amd64.txt) or
// Binary and Airgap (local files, used as they are). Leaving the section out
// builds an image without K3s.
type K3s struct {
	// Version is a K3s release tag such as v1.33.5+k3s1.
	Version string `yaml:"version"`
	// Mirror is the base URL releases are downloaded from, laid out as
	// <mirror>/<version>/<asset>; default DefaultK3sMirror.
	Mirror string `yaml:"mirror"`
	// Binary is a local k3s binary (with Airgap, instead of Version).
	Binary string `yaml:"binary"`
	// Airgap is a local airgap image archive such as
	// k3s-airgap-images-amd64.tar.zst (with Binary, instead of Version).
	Airgap string `yaml:"airgap"`
}

// DefaultK3sMirror is where K3s publishes its releases (the base install.sh
// downloads from: ${GITHUB_URL}/download/${VERSION_K3S}/...).
const DefaultK3sMirror = "https://github.com/k3s-io/k3s/releases/download"

// Enabled reports whether the site asks for K3s at all.
func (k K3s) Enabled() bool { return k != K3s{} }

// Local reports whether K3s comes from local files rather than a download.
func (k K3s) Local() bool { return k.Binary != "" || k.Airgap != "" }

func (k *K3s) setDefaults(*Site) {
	if k.Version != "" && !k.Local() && k.Mirror == "" {
		k.Mirror = DefaultK3sMirror
	}
	k.Mirror = strings.TrimRight(k.Mirror, "/")
}

func (k *K3s) resolvePaths(dir string) {
	k.Binary = resolve(dir, k.Binary)
	k.Airgap = resolve(dir, k.Airgap)
}
