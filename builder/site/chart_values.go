package site

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// MaxValuesFileBytes bounds a chart's values file, like the config itself.
const MaxValuesFileBytes = MaxConfigBytes

// readValuesFiles reads the chart's values files, each a YAML mapping (an
// empty file is no values), so a mistake fails validation with the file's
// line rather than the render.
func (c *Chart) readValuesFiles(v *validator, p string) {
	c.valuesFromFiles = nil
	for j, path := range c.ValuesFiles {
		field := index(p+".valuesFiles", j)
		data, err := readFile(path, MaxValuesFileBytes)
		if err != nil {
			v.errorf(field, "%s: %v", path, err)
			continue
		}
		vals, err := decodeValues(path, data)
		if err != nil {
			v.errorf(field, "%v", err)
			continue
		}
		c.valuesFromFiles = append(c.valuesFromFiles, vals)
	}
}

// decodeValues parses a values file: one YAML document, a mapping or
// nothing. Its errors name file and line.
func decodeValues(file string, data []byte) (map[string]any, error) {
	sub := &report{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return map[string]any{}, nil
	case err != nil:
		yamlError(sub, data, err)
		return nil, sub.err()
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		yamlError(sub, data, err)
		return nil, sub.err()
	default:
		sub.errorf(next.Line, "", "a second YAML document: a values file is one mapping")
		return nil, sub.err()
	}
	top := doc.Content[0]
	if top.ShortTag() == "!!null" {
		return map[string]any{}, nil
	}
	if top.Kind != yaml.MappingNode {
		// Its kind only: the file may be any file the builder can read.
		kind := "a single value"
		if top.Kind == yaml.SequenceNode {
			kind = "a list"
		}
		sub.errorf(top.Line, "", "expected a mapping of chart values, got %s", kind)
		return nil, sub.err()
	}
	m := map[string]any{}
	if err := top.Decode(&m); err != nil {
		// yaml.v3 refuses an alias bomb here ("excessive aliasing").
		yamlError(sub, data, err)
		return nil, sub.err()
	}
	return m, nil
}

// checkImage reports an image reference that cannot be pinned.
func checkImage(v *validator, field, ref string) {
	if err := catalog.CheckImageRef(ref); err != nil {
		v.errorf(field, "image %v", err)
	}
}
