package site

import "github.com/ml-appliance/appliance/firstboot/upgradebundle"

// Metadata names the site and the release a build of it is.
type Metadata struct {
	// Name is a DNS label; artifact names derive from it.
	Name string `yaml:"name"`
	// Version is the release version of what this config builds
	// (Semantic Versioning, firstboot/upgradebundle CheckVersion); a node
	// refuses an upgrade bundle older than the release it runs. Default
	// upgradebundle.DefaultVersion.
	Version string `yaml:"version"`
}

func (m *Metadata) setDefaults(*Site) {
	if m.Version == "" {
		m.Version = upgradebundle.DefaultVersion
	}
}

func (m *Metadata) validate(v *validator) {
	switch {
	case m.Name == "":
		v.errorf("metadata.name", "required")
	case !dnsLabel.MatchString(m.Name):
		v.errorf("metadata.name", "invalid name %q: %s", m.Name, dnsLabelRule)
	}
	if err := upgradebundle.CheckVersion(m.Version); err != nil {
		v.errorf("metadata.version", "%v", err)
	}
}
