// Package lock owns the site lock: a file beside the site config that pins
// every input the build resolves from the network to a digest: the base
// OS image (os.base.image), the K3s release assets, each platform chart's
// archive, and each image's multi-platform index and linux/amd64 manifest.
// A base given as a rootfs URL is pinned by the config itself
// (os.base.sha256), a local base is under the config's version control:
// neither is in the lock.
//
// `builder lock` resolves the config afresh (tags followed) and writes the
// lock; `builder build` uses the pins of a lock it finds, so a moved tag
// changes nothing; `builder build --locked` also refuses to build when what
// the config needs differs from what the lock lists. With a lock and a warm
// cache a rebuild makes no network request. A lock written before the base
// was pinned has no base field: it is read as it is, and Diff says the
// base is not in it.
//
//	l, err := lock.Read(lock.PathFor("site.yaml"))    // site.lock
//	if diff := lock.Diff(l, resolved); len(diff) > 0 { ... }
package lock

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/builder/atomicfile"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// APIVersion and Kind identify a lock file.
const (
	APIVersion = "appliance/v1alpha1"
	Kind       = "Lock"
)

// Lock is the set of pins for one site config.
type Lock struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Base pins os.base.image; nil when the base is not an image (and in
	// locks written before the base was pinned).
	Base   *Image  `yaml:"base,omitempty"`
	K3s    *K3s    `yaml:"k3s,omitempty"`
	Charts []Chart `yaml:"charts,omitempty"`
	Images []Image `yaml:"images,omitempty"`
}

// K3s pins a K3s release's assets.
type K3s struct {
	Version string `yaml:"version"`
	// Checksums is the digest of the release's sha256sum-amd64.txt, which
	// pins the binary and the airgap archive in turn.
	Checksums string `yaml:"checksums"`
	Binary    string `yaml:"binary"`
	Airgap    string `yaml:"airgap"`
}

// Chart pins one platform component's chart.
type Chart struct {
	Component string `yaml:"component"`
	Repo      string `yaml:"repo"`
	Name      string `yaml:"name"`
	Version   string `yaml:"version"`
	// Digest is the chart archive's (.tgz) sha256.
	Digest string `yaml:"digest"`
}

// Image pins one image reference.
type Image struct {
	Ref string `yaml:"ref"`
	// Index is the multi-platform index the registry served; empty when it
	// served an image manifest.
	Index string `yaml:"index,omitempty"`
	// Manifest is the linux/amd64 image manifest's digest.
	Manifest string `yaml:"manifest"`
}

// RegistryDigest is the digest the registry resolved Ref to when the pin
// was made: Index when it served a multi-platform index, else Manifest.
func (i Image) RegistryDigest() string {
	if i.Index != "" {
		return i.Index
	}
	return i.Manifest
}

// PathFor is the lock file for a config: site.yaml -> site.lock, beside it.
func PathFor(configPath string) string {
	ext := filepath.Ext(configPath)
	if ext == ".yaml" || ext == ".yml" {
		configPath = strings.TrimSuffix(configPath, ext)
	}
	return configPath + ".lock"
}

// New returns an empty lock.
func New() *Lock { return &Lock{APIVersion: APIVersion, Kind: Kind} }

// MaxBytes bounds a lock file: a pin takes about 200 bytes, so 16 MiB is
// some 80,000 of them, far more than any platform's images and charts.
const MaxBytes = 16 << 20

// Read loads a lock file (a regular file of at most MaxBytes, opened
// without blocking on a FIFO). A missing file is an error wrapping
// fs.ErrNotExist.
func Read(path string) (*Lock, error) {
	data, err := smallfile.Read(path, MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	l := &Lock{}
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if l.APIVersion != APIVersion || l.Kind != Kind {
		return nil, fmt.Errorf("lock %s: not a %s %s (apiVersion %q, kind %q)", path, APIVersion, Kind, l.APIVersion, l.Kind)
	}
	l.sort()
	return l, nil
}

// Exists reports whether path holds a lock file (any other error is
// returned).
func Exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Write writes l to path atomically, sorted, with a header saying what it
// is.
func (l *Lock) Write(path, configName string) error {
	l.sort()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Written by `builder lock --config %s`: every download the build makes,\n", configName)
	buf.WriteString("# pinned by digest. Keep it beside the config, under version control.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("write lock %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write lock %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes(), 0o644)
}

func (l *Lock) sort() {
	slices.SortFunc(l.Charts, func(a, b Chart) int { return strings.Compare(a.Component, b.Component) })
	slices.SortFunc(l.Images, func(a, b Image) int { return strings.Compare(a.Ref, b.Ref) })
}

// Chart returns the pin for component's chart.
func (l *Lock) Chart(component string) (Chart, bool) {
	if l == nil {
		return Chart{}, false
	}
	for _, c := range l.Charts {
		if c.Component == component {
			return c, true
		}
	}
	return Chart{}, false
}

// BaseImage returns the base's pin when it pins ref.
func (l *Lock) BaseImage(ref string) (Image, bool) {
	if l == nil || l.Base == nil || l.Base.Ref != ref {
		return Image{}, false
	}
	return *l.Base, true
}

// Image returns the pin for ref.
func (l *Lock) Image(ref string) (Image, bool) {
	if l == nil {
		return Image{}, false
	}
	for _, i := range l.Images {
		if i.Ref == ref {
			return i, true
		}
	}
	return Image{}, false
}
