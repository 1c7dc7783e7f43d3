// Package report defines build-report.json: what a build produced and from
// which inputs, so an operator (and an auditor) can tell exactly what an
// appliance carries.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// FileName is the report's name in the output directory.
const FileName = "build-report.json"

// Report describes one build.
type Report struct {
	// Site is the site's metadata.name.
	Site string `json:"site"`
	// Config is the config file the build read.
	Config string `json:"config"`
	// SourceDateEpoch is the timestamp every file in the artifacts carries.
	SourceDateEpoch int64 `json:"sourceDateEpoch"`
	// Builder is the builder's version.
	Builder string `json:"builder"`
	// Inputs are everything the artifacts were made from.
	Inputs []Input `json:"inputs"`
	// Artifacts are the files the build wrote, relative to the output directory.
	Artifacts []Artifact `json:"artifacts"`
	// Charts are the platform's charts.
	Charts []Chart `json:"charts,omitempty"`
	// Images are the platform's and the site's images, in the image
	// payload (the artifact of kind "payload").
	Images []Image `json:"images,omitempty"`
	// Warnings are the config's warnings.
	Warnings []string `json:"warnings,omitempty"`
	// ClusterIdentity says which cluster secrets the image holds; nil for
	// an image without K3s.
	ClusterIdentity *ClusterIdentity `json:"clusterIdentity,omitempty"`
}

// ClusterIdentity describes the cluster's secrets, never the secrets
// themselves. They are in no OS image: the secrets volume (the raw disk's
// SECRETS partition, the ISO's install/secrets.img) carries them, and the
// artifacts that hold any say so in Artifact.Secrets.
type ClusterIdentity struct {
	// Token is where the cluster token came from: "generate", "file" or
	// "literal". The secrets volume always holds it when K3s is in the
	// image.
	Token string `json:"token"`
	// CA is "generate" (the image holds the cluster CA's certificates, the
	// secrets volume its keys) or "none" (K3s makes its own at the first
	// start).
	CA string `json:"ca"`
	// CAHash is the hash joining nodes pin (the K10<hash>:: of the join
	// token); it identifies the CA and is not secret.
	CAHash string `json:"caHash,omitempty"`
	// SecretsDir is where the generated identity is kept for later builds,
	// relative to the output directory (secrets/<site>).
	SecretsDir string `json:"secretsDir,omitempty"`
	// VolumeSecrets are the files of the secrets volume, relative to the
	// node's /var/lib/appliance/cluster.
	VolumeSecrets []string `json:"volumeSecrets"`
}

// Chart is one platform component's chart.
type Chart struct {
	// Component is the catalog component or the site's chart (its release).
	Component string `json:"component"`
	// Origin is "catalog" or "site".
	Origin  string `json:"origin,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// Repo is the repository it was pulled from (a mirror, if configured);
	// Path the site's local chart it was packaged from.
	Repo string `json:"repo,omitempty"`
	Path string `json:"path,omitempty"`
	// Digest is "sha256:<hex>" of the chart archive.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// Image is one image in the image payload.
type Image struct {
	// Name is the image's name in the archive (containerd's form).
	Name string `json:"name"`
	// Digest is the linux/amd64 manifest's digest; Index the multi-platform
	// index's when the registry served one.
	Digest string `json:"digest"`
	Index  string `json:"index,omitempty"`
	// Size is the bytes it adds to the archive on its own (shared layers
	// are stored once, so sizes do not add up to the archive's).
	Size int64 `json:"size"`
	// Components are the platform components that need it.
	Components []string `json:"components"`
}

// Input is one resolved input.
type Input struct {
	// Name says what the input is for: "base", "kernel", "bootloader", "firstboot", ...
	Name string `json:"name"`
	// Source is where it came from: a path, URL or image reference.
	Source string `json:"source"`
	// Digest is "sha256:<hex>" of the bytes used (for an OCI image, its manifest digest).
	Digest string `json:"digest"`
	// Size in bytes, when known.
	Size int64 `json:"size,omitempty"`
}

// Artifact is one file in the output directory.
type Artifact struct {
	// Kind: "raw", "os-image", "payload", "kernel", "initramfs", ...
	Kind string `json:"kind"`
	// Path is relative to the output directory.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Details are kind-specific facts (e.g. the partition table of a raw disk).
	Details any `json:"details,omitempty"`
	// Secrets says which cluster secrets the artifact holds: SecretsServer
	// (the secrets volume: whoever reads the artifact can join a server,
	// sign certificates and read the snapshots) or SecretsAgentToken (the
	// agent join token: it joins an agent). Empty: none. An artifact with
	// SecretsServer is written 0600.
	Secrets string `json:"secrets,omitempty"`
}

// Values of Artifact.Secrets.
const (
	SecretsServer     = "server"
	SecretsAgentToken = "agent-token"
)

// Describe hashes the file at path and returns its Artifact entry with the
// given kind and report path.
func Describe(kind, path, reportPath string) (Artifact, error) {
	n, sum, err := HashFile(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("describe %s: %w", kind, err)
	}
	return Artifact{Kind: kind, Path: reportPath, Size: n, SHA256: sum}, nil
}

// Digest is a file's length and sha256 in hex, computed by whoever wrote
// it (diskimage.WriteHashed hashes the raw disk while it writes it) or
// recorded earlier (the build cache's record of the image payload), so
// that nobody reads gigabytes again to learn them.
type Digest struct {
	Size   int64
	SHA256 string
}

// Check does the checks that cost no reading: that d.SHA256 is 64
// lower-case hex digits and that the file at path (a symbolic link is
// followed) is a regular file of d.Size bytes. A file that changed
// without changing its length is not caught: d must come from the
// writer of the file, or from a record that is kept with it.
func (d Digest) Check(path string) error {
	if b, err := hex.DecodeString(d.SHA256); err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != d.SHA256 {
		return fmt.Errorf("digest of %s: sha256 %q is not 64 lower-case hex digits", path, d.SHA256)
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("digest of %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("digest of %s: it is %s, not a regular file", path, smallfile.Kind(info.Mode()))
	}
	if info.Size() != d.Size {
		return fmt.Errorf("digest of %s: it is %d bytes, the digest is of %d bytes", path, info.Size(), d.Size)
	}
	return nil
}

// DescribeDigest is Describe for a file whose digest d is known: it
// checks d against the file (Digest.Check) and reads none of it.
func DescribeDigest(kind, path, reportPath string, d Digest) (Artifact, error) {
	if err := d.Check(path); err != nil {
		return Artifact{}, fmt.Errorf("describe %s: %w", kind, err)
	}
	return Artifact{Kind: kind, Path: reportPath, Size: d.Size, SHA256: d.SHA256}, nil
}

// HashFile returns the size of the file at path and its sha256 in hex.
func HashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("hash %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Marshal renders r as indented JSON with a trailing newline.
func Marshal(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode build report: %w", err)
	}
	return append(b, '\n'), nil
}
