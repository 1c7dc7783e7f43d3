package nocloud

import (
	"fmt"
	"unicode"

	"github.com/ml-appliance/appliance/firstboot/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// MetaData is the part of a NoCloud meta-data file firstboot reads.
type MetaData struct {
	InstanceID    string
	LocalHostname string
}

// ParseMetaData parses a meta-data file (YAML or JSON), a single document
// (see yamlnode.Decode). Keys firstboot does not read yet produce warnings;
// a known key of the wrong type is an error.
func ParseMetaData(data []byte) (MetaData, []string, error) {
	var md MetaData
	fields, err := topLevel("meta-data", data)
	if err != nil || fields == nil {
		return md, nil, err
	}
	var warnings []string
	for _, f := range fields {
		switch f.key.Value {
		case "instance-id":
			err = scalar("meta-data", f, &md.InstanceID)
		case "local-hostname":
			err = scalar("meta-data", f, &md.LocalHostname)
		default:
			warnings = append(warnings, unsupported("meta-data", f))
		}
		if err != nil {
			return MetaData{}, nil, err
		}
	}
	return md, warnings, nil
}

type field struct {
	key, value *yaml.Node
}

// topLevel decodes a YAML document and returns its top-level mapping's
// fields in file order; nil for an empty document.
func topLevel(file string, data []byte) ([]field, error) {
	root, err := yamlnode.TopLevel(file, data)
	if err != nil || root == nil {
		return nil, err
	}
	fields := make([]field, 0, len(root.Content)/2)
	for key, value := range yamlnode.Pairs(root) {
		fields = append(fields, field{key: key, value: value})
	}
	return fields, nil
}

func unsupported(file string, f field) string {
	return fmt.Sprintf("%s line %d: key %q is not supported yet, ignored", file, f.key.Line, f.key.Value)
}

// scalar decodes a one-line string: instance-id and local-hostname are
// printed on the console and become the host name, where a control
// character (a NUL, a line break, a terminal escape) has no place.
func scalar(file string, f field, dst *string) error {
	if f.value.Kind != yaml.ScalarNode || yamlnode.IsNull(f.value) {
		return fmt.Errorf("%s line %d: %s: want a string, got %s", file, f.value.Line, f.key.Value, yamlnode.KindName(f.value))
	}
	for i, r := range f.value.Value {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s line %d: %s: want a string without control characters, got %q (%U at byte %d)", file, f.value.Line, f.key.Value, f.value.Value, r, i)
		}
	}
	*dst = f.value.Value
	return nil
}
