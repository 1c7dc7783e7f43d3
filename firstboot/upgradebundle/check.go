package upgradebundle

import (
	"fmt"
	"regexp"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

var (
	hexSHA256   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	indexDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// token is a kernel release or K3s version: letters, digits, . _ + ~ -.
	token = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$`)
	// clusterHash is K3s's CA hash: hex sha256.
	clusterHash = hexSHA256
)

// Check checks every field of a release against its grammar.
func (r Release) Check() error {
	switch {
	case !dnsLabel.MatchString(r.Site):
		return fmt.Errorf("release: site %q: want a DNS label", r.Site)
	case !hexSHA256.MatchString(r.SiteID):
		return fmt.Errorf("release: siteID %q: want 64 hex digits", r.SiteID)
	case r.Cluster != "" && !clusterHash.MatchString(r.Cluster):
		return fmt.Errorf("release: cluster %q: want 64 hex digits", r.Cluster)
	case r.K3sVersion != "" && !token.MatchString(r.K3sVersion):
		return fmt.Errorf("release: k3sVersion %q: want letters, digits and . _ + ~ -", r.K3sVersion)
	case !token.MatchString(r.KernelVersion):
		return fmt.Errorf("release: kernelVersion %q: want letters, digits and . _ + ~ -", r.KernelVersion)
	case r.Payload != "" && !indexDigest.MatchString(r.Payload):
		return fmt.Errorf("release: payload %q: want sha256:<64 hex digits>", r.Payload)
	}
	if err := CheckVersion(r.Version); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// Check checks a manifest: its format, release, kernel arguments and
// files (each at its fixed name, with a size and a sha256).
func (m Manifest) Check() error {
	if m.Format != Format {
		return fmt.Errorf("bundle manifest: format %d, this firstboot reads format %d", m.Format, Format)
	}
	if err := m.Release.Check(); err != nil {
		return fmt.Errorf("bundle manifest: %w", err)
	}
	if err := bootparam.CheckCmdline("bundle manifest: cmdline", m.Cmdline); err != nil {
		return err
	}
	files := []struct {
		f    File
		name string
	}{{m.OSImage, OSImageFile}, {m.Kernel, KernelFile}, {m.Initrd, InitrdFile}}
	if m.Payload != nil {
		files = append(files, struct {
			f    File
			name string
		}{*m.Payload, PayloadFile})
		if m.Release.Payload == "" {
			return fmt.Errorf("bundle manifest: a payload file but no release.payload digest")
		}
	}
	for _, f := range files {
		switch {
		case f.f.Name != f.name:
			return fmt.Errorf("bundle manifest: file %q: want %q", f.f.Name, f.name)
		case f.f.Size <= 0:
			return fmt.Errorf("bundle manifest: %s: size %d", f.name, f.f.Size)
		case !hexSHA256.MatchString(f.f.SHA256):
			return fmt.Errorf("bundle manifest: %s: sha256 %q: want 64 hex digits", f.name, f.f.SHA256)
		}
	}
	return nil
}

// Accept says whether a node running release running may apply m: the
// same site and cluster, and not an older version unless allowDowngrade.
// Its errors are the line the node prints.
func (m Manifest) Accept(running Release, allowDowngrade bool) error {
	got := m.Release
	switch {
	case got.SiteID != running.SiteID:
		return fmt.Errorf("the bundle is for site %s (ID %.12s…), this node runs site %s (ID %.12s…)", got.Site, got.SiteID, running.Site, running.SiteID)
	case got.Cluster != running.Cluster:
		return fmt.Errorf("the bundle is for another cluster (CA hash %.12s…, this node's %.12s…): build it with this cluster's secrets directory", got.Cluster, running.Cluster)
	}
	if Compare(got.Version, running.Version) < 0 && !allowDowngrade {
		return fmt.Errorf("the bundle's release %s is older than the running %s: pass --allow-downgrade to go back", got.Version, running.Version)
	}
	return nil
}
