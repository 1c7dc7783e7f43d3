package yamlnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Bounds on what aliases may add to a document. yaml.v3 keeps an alias
// (*name) as one node pointing at its anchor, so a document decoded into
// yaml.Node stays as small as its text; the size blows up only in the code
// that walks it and follows aliases. yaml.v3's own guard ("document
// contains excessive aliasing", decode.go decoder.unmarshal) counts the
// nodes it decodes into Go values: decoding into a yaml.Node returns before
// any alias is followed, so it never fires for these parsers. Hence these
// bounds, on the document as the parsers see it with every alias followed.
const (
	// MaxAliasNodes is how many nodes aliases may add in all.
	MaxAliasNodes = 10000
	// MaxAliasBytes is how many bytes of scalar text (keys and values)
	// aliases may add in all.
	MaxAliasBytes = 1 << 20
)

// Decode decodes data, which must be a single YAML document, and returns
// the document's root node: nil for an empty document (no text, or only
// comments). Errors read "<source>: <YAML error>" or "<source> line N:
// <problem>": a second document (YAML's "---" after the first one, which
// yaml.Unmarshal would silently drop; cloud-init's PyYAML refuses it too),
// an alias that refers to the node containing it, or aliases that add more
// than MaxAliasNodes nodes or MaxAliasBytes bytes.
func Decode(source string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("%s line %d: a second YAML document starts here; want one document", source, next.Line)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if err := checkAliases(root); err != nil {
		return nil, fmt.Errorf("%s %w", source, err)
	}
	return root, nil
}

// checkAliases walks the tree under root in document order without
// following aliases, and adds up what each alias brings in when followed.
// The expanded size of every anchored node is computed once, so the walk
// is linear in the size of the text however deep the aliases nest.
func checkAliases(root *yaml.Node) error {
	s := &sizer{memo: map[*yaml.Node]size{}, open: map[*yaml.Node]bool{}}
	var added size
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n.Kind == yaml.AliasNode {
			got, err := s.expanded(n)
			if err != nil {
				return err
			}
			added = added.plus(got)
			if added.nodes > MaxAliasNodes || added.bytes > MaxAliasBytes {
				return fmt.Errorf("line %d: alias *%s: aliases add more than %d nodes or %d bytes to the document", n.Line, n.Value, MaxAliasNodes, MaxAliasBytes)
			}
			return nil
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

// size is a node count and a byte count, saturating far below overflow.
type size struct{ nodes, bytes int64 }

const sizeCap = 1 << 50

func (a size) plus(b size) size {
	return size{min(a.nodes+b.nodes, sizeCap), min(a.bytes+b.bytes, sizeCap)}
}

// sizer computes the size of subtrees with aliases followed.
type sizer struct {
	memo map[*yaml.Node]size
	open map[*yaml.Node]bool // nodes being sized: an alias to one is a cycle
}

// expanded is the size of the subtree under n with every alias followed.
func (s *sizer) expanded(n *yaml.Node) (size, error) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return size{}, nil
		}
		if s.open[n.Alias] {
			return size{}, fmt.Errorf("line %d: alias *%s refers to a node that contains it", n.Line, n.Value)
		}
		return s.expanded(n.Alias)
	}
	if got, ok := s.memo[n]; ok {
		return got, nil
	}
	s.open[n] = true
	total := size{1, int64(len(n.Value))}
	for _, c := range n.Content {
		got, err := s.expanded(c)
		if err != nil {
			return size{}, err
		}
		total = total.plus(got)
	}
	delete(s.open, n)
	s.memo[n] = total
	return total, nil
}
