package site

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Count is a whole number of at least 1, written as a YAML integer. Zero
// means the field was left out: an explicit 0 is an error, so a default
// never hides it.
type Count int

var errCount = errors.New("want a whole number of at least 1")

// decodeNode accepts an integer of at least 1; null leaves the count unset.
func (c *Count) decodeNode(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return fmt.Errorf("expected an integer, got %s: %w", describe(n), errCount)
	}
	var i int
	if err := n.Decode(&i); err != nil || i < 1 {
		return fmt.Errorf("%s: %w", n.Value, errCount)
	}
	*c = Count(i)
	return nil
}
