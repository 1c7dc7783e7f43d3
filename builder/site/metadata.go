package site

// Metadata names the site.
type Metadata struct {
	// Name is a DNS label; artifact names derive from it.
	Name string `yaml:"name"`
}

func (m *Metadata) validate(v *validator) {
	switch {
	case m.Name == "":
		v.errorf("metadata.name", "required")
	case !dnsLabel.MatchString(m.Name):
		v.errorf("metadata.name", "invalid name %q: %s", m.Name, dnsLabelRule)
	}
}
