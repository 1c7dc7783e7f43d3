// Package yamlnode holds what firstboot's YAML parsers (cloud-config,
// network config, NoCloud meta-data) share when they walk yaml.v3 nodes to
// report errors with line numbers: decoding exactly one document down to
// its top-level mapping with the expansion of its aliases bounded,
// following aliases, a mapping's key-value pairs in file
// order, and the kind names their messages use ("want a mapping, got a
// list").
//
// The parsers keep their own rules for values (which spellings of a
// boolean they take, whether a repeated key is an error or a warning) and
// their own way of collecting problems; this package only names and walks
// nodes.
package yamlnode

import (
	"fmt"
	"iter"

	"gopkg.in/yaml.v3"
)

// TopLevel decodes data, a single document (see Decode), and returns its
// top-level mapping; nil, with no error, for an empty or null document.
// Errors are Decode's or "<source> line N: want a mapping, got <kind>".
func TopLevel(source string, data []byte) (*yaml.Node, error) {
	root, err := Decode(source, data)
	if err != nil || root == nil || IsNull(root) {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s line %d: want a mapping, got %s", source, root.Line, KindName(root))
	}
	return root, nil
}

// Deref follows a YAML alias (*name) to its anchored node.
func Deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// IsNull says whether n is null (~, null, or a key with no value).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// KindName describes n without its value, for messages: "a mapping",
// "a list", "an alias", "null" or "a scalar".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if IsNull(n) {
		return "null"
	}
	return "a scalar"
}

// Pairs yields mapping m's keys and values in file order, as they are
// (aliases not followed).
func Pairs(m *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(key, value *yaml.Node) bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if !yield(m.Content[i], m.Content[i+1]) {
				return
			}
		}
	}
}
