package netconfig

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The scalar decoders record the value's line under path, report a type
// error and return false when the value has the wrong shape.

func (p *parser) str(f field, path string, dst *string) bool {
	v := deref(f.value)
	p.lines[path] = v.Line
	if v.Kind != yaml.ScalarNode || isNull(v) {
		p.fail(v, path, "want a string, got %s", kindName(v))
		return false
	}
	*dst = strings.TrimSpace(v.Value)
	return true
}

// boolean accepts YAML 1.1 spellings too (yes/no/on/off): cloud-init and
// netplan read YAML 1.1, and examples write `dhcp4: yes`.
func (p *parser) boolean(f field, path string, dst *bool) bool {
	v := deref(f.value)
	p.lines[path] = v.Line
	if v.Kind == yaml.ScalarNode {
		switch strings.ToLower(v.Value) {
		case "true", "yes", "on":
			*dst = true
			return true
		case "false", "no", "off":
			*dst = false
			return true
		}
	}
	p.fail(v, path, "want true or false, got %s", describe(v))
	return false
}

func (p *parser) integer(f field, path string, dst *int) bool {
	v := deref(f.value)
	p.lines[path] = v.Line
	if v.Kind == yaml.ScalarNode {
		if n, err := strconv.Atoi(v.Value); err == nil {
			*dst = n
			return true
		}
	}
	p.fail(v, path, "want an integer, got %s", describe(v))
	return false
}

func (p *parser) uint32(f field, path string) (*uint32, bool) {
	v := deref(f.value)
	p.lines[path] = v.Line
	if v.Kind == yaml.ScalarNode {
		if n, err := strconv.ParseUint(v.Value, 10, 32); err == nil {
			u := uint32(n)
			return &u, true
		}
	}
	p.fail(v, path, "want an integer in 0..4294967295, got %s", describe(v))
	return nil, false
}

// milliseconds decodes a netplan time value: a bare integer is milliseconds,
// or a number with a unit (100ms, 1s).
func (p *parser) milliseconds(f field, path string, dst *time.Duration) bool {
	v := deref(f.value)
	p.lines[path] = v.Line
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		if n, err := strconv.ParseUint(v.Value, 10, 31); err == nil {
			*dst = time.Duration(n) * time.Millisecond
			return true
		}
		if d, err := time.ParseDuration(v.Value); err == nil && d >= 0 && d%time.Millisecond == 0 {
			*dst = d
			return true
		}
	}
	p.fail(v, path, "want milliseconds (100) or a duration (100ms, 1s), got %s", describe(v))
	return false
}

func (p *parser) strList(f field, path string) ([]string, bool) {
	v := deref(f.value)
	p.lines[path] = f.key.Line
	if v.Kind != yaml.SequenceNode {
		p.fail(v, path, "want a list of strings, got %s", kindName(v))
		return nil, false
	}
	out := make([]string, 0, len(v.Content))
	ok := true
	for i, item := range v.Content {
		var s string
		if !p.str(field{key: f.key, value: item}, path+index(i), &s) {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// mapping returns the fields of a mapping value, or false after reporting
// a value of another kind.
func (p *parser) mapping(f field, path string) ([]field, bool) {
	v := deref(f.value)
	p.lines[path] = f.key.Line
	if v.Kind != yaml.MappingNode {
		p.fail(v, path, "want a mapping, got %s", kindName(v))
		return nil, false
	}
	return p.fields(v, path), true
}

func index(i int) string {
	return "[" + strconv.Itoa(i) + "]"
}
