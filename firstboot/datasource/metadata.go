package datasource

import (
	"fmt"

	"github.com/ml-appliance/appliance/firstboot/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// withCmdlineMeta returns meta-data with instance-id and local-hostname set
// from i= and h= of ds=nocloud, which win over the document's own values as
// in cloud-init. The other keys are kept. With neither set it returns data
// unchanged; with no data it makes a document of the two. data must be a
// single YAML document (yamlnode.Decode): what follows a second "---"
// would be dropped without a word.
func withCmdlineMeta(data []byte, hostname, instanceID string) ([]byte, error) {
	if hostname == "" && instanceID == "" {
		return data, nil
	}
	top, err := yamlnode.Decode("meta-data", data)
	if err != nil {
		return nil, err
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	switch {
	case top == nil || yamlnode.IsNull(top):
	case top.Kind == yaml.MappingNode:
		root = top
		root.Style &^= yaml.FlowStyle
	default:
		return nil, fmt.Errorf("meta-data line %d: want a mapping to set h= and i= in", top.Line)
	}
	if instanceID != "" {
		setKey(root, "instance-id", instanceID)
	}
	if hostname != "" {
		setKey(root, "local-hostname", hostname)
	}
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("meta-data: %w", err)
	}
	return out, nil
}

// setKey sets key to the string value in mapping m, replacing every value
// the key had.
func setKey(m *yaml.Node, key, value string) {
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = val
			found = true
		}
	}
	if !found {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
	}
}
