package nocloud

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"gopkg.in/yaml.v3"
)

// MetaData is the part of a NoCloud meta-data file firstboot reads.
type MetaData struct {
	InstanceID    string
	LocalHostname string
}

// UserData is the part of a #cloud-config user-data file firstboot reads.
type UserData struct {
	Hostname          string
	FQDN              string
	SSHAuthorizedKeys []string
	// Role is appliance.role: nodeconfig.RoleServer, nodeconfig.RoleAgent or "".
	Role string
}

// CloudConfigHeader is the first line of a cloud-config user-data file.
const CloudConfigHeader = "#cloud-config"

// ParseMetaData parses a meta-data file (YAML or JSON). Keys firstboot does
// not read yet produce warnings; a known key of the wrong type is an error.
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

// ParseUserData parses a user-data file. A file that is not #cloud-config
// (a script, MIME multi-part) is ignored with a warning; an empty file is
// fine. Top-level keys firstboot does not read yet produce warnings. The
// appliance key is firstboot's own: an unknown key or a bad value under it
// is an error.
func ParseUserData(data []byte) (UserData, []string, error) {
	var ud UserData
	if len(bytes.TrimSpace(data)) == 0 {
		return ud, nil, nil
	}
	first, _, _ := strings.Cut(string(data), "\n")
	first = strings.TrimRight(first, " \t\r")
	if first != CloudConfigHeader {
		return ud, []string{fmt.Sprintf("user-data: first line %q is not %q, file ignored", truncate(first, 40), CloudConfigHeader)}, nil
	}
	fields, err := topLevel("user-data", data)
	if err != nil || fields == nil {
		return ud, nil, err
	}
	var warnings []string
	for _, f := range fields {
		switch f.key.Value {
		case "hostname":
			err = scalar("user-data", f, &ud.Hostname)
		case "fqdn":
			err = scalar("user-data", f, &ud.FQDN)
		case "ssh_authorized_keys":
			ud.SSHAuthorizedKeys, err = stringList("user-data", f)
		case "appliance":
			ud.Role, err = applianceSection(f)
		default:
			warnings = append(warnings, unsupported("user-data", f))
		}
		if err != nil {
			return UserData{}, nil, err
		}
	}
	return ud, warnings, nil
}

type field struct {
	key, value *yaml.Node
}

// topLevel decodes a YAML document and returns its top-level mapping's
// fields in file order; nil for an empty document.
func topLevel(file string, data []byte) ([]field, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s line %d: want a mapping, got %s", file, root.Line, kindName(root))
	}
	return mappingFields(root), nil
}

func mappingFields(n *yaml.Node) []field {
	fields := make([]field, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		fields = append(fields, field{key: n.Content[i], value: n.Content[i+1]})
	}
	return fields
}

func unsupported(file string, f field) string {
	return fmt.Sprintf("%s line %d: key %q is not supported yet, ignored", file, f.key.Line, f.key.Value)
}

func scalar(file string, f field, dst *string) error {
	if f.value.Kind != yaml.ScalarNode || f.value.Tag == "!!null" {
		return fmt.Errorf("%s line %d: %s: want a string, got %s", file, f.value.Line, f.key.Value, kindName(f.value))
	}
	*dst = f.value.Value
	return nil
}

func stringList(file string, f field) ([]string, error) {
	if f.value.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s line %d: %s: want a list of strings, got %s", file, f.value.Line, f.key.Value, kindName(f.value))
	}
	out := make([]string, 0, len(f.value.Content))
	for _, item := range f.value.Content {
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			return nil, fmt.Errorf("%s line %d: %s: want a string, got %s", file, item.Line, f.key.Value, kindName(item))
		}
		out = append(out, item.Value)
	}
	return out, nil
}

// applianceSection decodes `appliance: {role: server|agent}`.
func applianceSection(f field) (string, error) {
	if f.value.Kind != yaml.MappingNode {
		return "", fmt.Errorf("user-data line %d: appliance: want a mapping, got %s", f.value.Line, kindName(f.value))
	}
	var role string
	for _, sub := range mappingFields(f.value) {
		if sub.key.Value != "role" {
			return "", fmt.Errorf("user-data line %d: appliance: unknown key %q (known: role)", sub.key.Line, sub.key.Value)
		}
		if err := scalar("user-data", field{key: &yaml.Node{Value: "appliance.role"}, value: sub.value}, &role); err != nil {
			return "", err
		}
		if role != nodeconfig.RoleServer && role != nodeconfig.RoleAgent {
			return "", fmt.Errorf("user-data line %d: appliance.role: want %q or %q, got %q", sub.value.Line, nodeconfig.RoleServer, nodeconfig.RoleAgent, role)
		}
	}
	return role, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return "a scalar"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
