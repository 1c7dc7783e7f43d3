package netconfig

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// Parse decodes a network config version 2 document whose top level is
// either `network: {version: 2, ...}` or `version: 2, ...`; source names the
// document in messages ("<source> line N: <path>: want ..., got ...").
// `config: disabled` is Config{Disabled: true}; version 1 is an error. Keys
// outside the supported subset are warnings naming their path. Every
// problem is returned, joined in line order: every key of the wrong type,
// or, once the types are right, every bad value and dangling reference. On
// error the Config is empty. An empty document is an empty Config and a
// warning.
func Parse(source string, data []byte) (Config, []string, error) {
	p := &parser{source: source, lines: map[string]int{}}
	cfg := p.document(data)
	if len(p.problems) == 0 { // values are checked once their types are right
		for _, pr := range cfg.validate() {
			p.failAt(p.lineOf(pr.path), pr.path, "%s", pr.msg)
		}
	}
	if len(p.problems) > 0 {
		return Config{}, nil, p.err()
	}
	return cfg, p.warnings, nil
}

type parser struct {
	source string
	// prefix is "network." when the document wraps its config in network:,
	// so that a path in a message reads as the file does.
	prefix   string
	lines    map[string]int // path -> line, for validation messages
	warnings []string
	problems []located
}

type located struct {
	line int
	text string
}

type field struct {
	key, value *yaml.Node
}

func (p *parser) document(data []byte) Config {
	var root *yaml.Node
	if len(bytes.TrimSpace(data)) > 0 { // YAML rejects some blank text (a tab)
		var err error
		if root, err = yamlnode.TopLevel(p.source, data); err != nil {
			// The only problem, as nothing else is decoded: its line
			// needs no sorting.
			p.problems = append(p.problems, located{0, err.Error()})
			return Config{}
		}
	}
	if root == nil {
		p.warnings = append(p.warnings, fmt.Sprintf("%s: empty, no network configuration", p.source))
		return Config{}
	}
	fields := p.fields(root, "")
	for _, f := range fields {
		if f.key.Value == "network" {
			return p.wrapped(f, fields)
		}
	}
	return p.network(root, fields)
}

// wrapped handles `network: {...}`: other top-level keys are ignored.
func (p *parser) wrapped(network field, all []field) Config {
	for _, f := range all {
		if f.key.Value != "network" {
			p.warnings = append(p.warnings, fmt.Sprintf("%s line %d: %s: not supported beside network, ignored", p.source, f.key.Line, f.key.Value))
		}
	}
	p.prefix = "network."
	m := deref(network.value)
	if m.Kind != yaml.MappingNode {
		p.problems = append(p.problems, located{m.Line, fmt.Sprintf("%s line %d: network: want a mapping, got %s", p.source, m.Line, kindName(m))})
		return Config{}
	}
	return p.network(m, p.fields(m, ""))
}

// network decodes the mapping holding version and the device sections.
func (p *parser) network(m *yaml.Node, fields []field) Config {
	var version, config *yaml.Node
	for _, f := range fields {
		switch f.key.Value {
		case "config":
			config = deref(f.value)
		case "version":
			version = deref(f.value)
		}
	}
	if config != nil && config.Kind == yaml.ScalarNode && config.Value == "disabled" {
		return Config{Disabled: true}
	}
	switch {
	case version != nil && version.Kind == yaml.ScalarNode && version.Value == "1":
		p.problems = append(p.problems, located{version.Line, fmt.Sprintf("%s line %d: network config version 1 is not supported; use version 2", p.source, version.Line)})
		return Config{}
	case config != nil:
		p.fail(config, "config", "want %q, got %s", "disabled", describe(config))
		return Config{}
	case version == nil:
		p.fail(m, "version", "want 2, got none")
		return Config{}
	case version.Kind != yaml.ScalarNode || version.Value != "2":
		p.fail(version, "version", "want 2, got %s", describe(version))
		return Config{}
	}
	var cfg Config
	for _, f := range fields {
		switch f.key.Value {
		case "version", "config":
		case "renderer":
			var r string
			if p.str(f, "renderer", &r) && r != "networkd" {
				p.warn(f.key, "renderer", fmt.Sprintf("%q ignored, firstboot renders for systemd-networkd", r))
			}
		case "ethernets":
			cfg.Ethernets = p.ethernets(f)
		case "bonds":
			cfg.Bonds = p.bonds(f)
		case "vlans":
			cfg.VLANs = p.vlans(f)
		default:
			p.unsupported(f, "")
		}
	}
	return cfg
}

// devices walks a device section (ethernets, bonds, vlans) and calls each
// with the entry's ID, path and fields, in file order.
func (p *parser) devices(section field, each func(id, path string, fields []field)) {
	name := section.key.Value
	m := deref(section.value)
	if isNull(m) {
		return
	}
	if m.Kind != yaml.MappingNode {
		p.fail(m, name, "want a mapping of IDs to devices, got %s", kindName(m))
		return
	}
	for _, f := range p.fields(m, name) {
		path := name + "." + f.key.Value
		p.lines[path] = f.key.Line
		v := deref(f.value)
		if isNull(v) {
			each(f.key.Value, path, nil)
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.fail(v, path, "want a mapping, got %s", kindName(v))
			continue
		}
		each(f.key.Value, path, p.fields(v, path))
	}
}

// fields returns a mapping's fields in file order; a repeated key is an error.
func (p *parser) fields(m *yaml.Node, path string) []field {
	seen := map[string]int{}
	out := make([]field, 0, len(m.Content)/2)
	for key, value := range yamlnode.Pairs(m) {
		key = deref(key)
		if first, dup := seen[key.Value]; dup {
			p.fail(key, join(path, key.Value), "want each key once, got it again (first on line %d)", first)
			continue
		}
		seen[key.Value] = key.Line
		out = append(out, field{key: key, value: value})
	}
	return out
}

func (p *parser) unsupported(f field, path string) {
	p.warn(f.key, join(path, f.key.Value), "not supported, ignored")
}

func (p *parser) warn(at *yaml.Node, path, msg string) {
	p.warnings = append(p.warnings, fmt.Sprintf("%s line %d: %s%s: %s", p.source, at.Line, p.prefix, path, msg))
}

func (p *parser) fail(at *yaml.Node, path, format string, args ...any) {
	p.failAt(at.Line, path, format, args...)
}

func (p *parser) failAt(line int, path, format string, args ...any) {
	p.problems = append(p.problems, located{line, fmt.Sprintf("%s line %d: %s%s: %s", p.source, line, p.prefix, path, fmt.Sprintf(format, args...))})
}

// lineOf is the line recorded for path or for its nearest recorded parent.
func (p *parser) lineOf(path string) int {
	for path != "" {
		if line, ok := p.lines[path]; ok {
			return line
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return 0
}

func (p *parser) err() error {
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].line < p.problems[j].line })
	errs := make([]error, len(p.problems))
	for i, pr := range p.problems {
		errs[i] = errors.New(pr.text)
	}
	return errors.Join(errs...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func deref(n *yaml.Node) *yaml.Node { return yamlnode.Deref(n) }

func isNull(n *yaml.Node) bool { return yamlnode.IsNull(n) }

func kindName(n *yaml.Node) string { return yamlnode.KindName(n) }

// describe is a scalar's value quoted, or the kind of a non-scalar.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return fmt.Sprintf("%q", n.Value)
	}
	return kindName(n)
}
