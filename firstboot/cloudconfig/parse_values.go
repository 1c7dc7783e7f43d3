package cloudconfig

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/ml-appliance/appliance/firstboot/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// deref follows a YAML alias (*name) to its anchored node.
func deref(n *yaml.Node) *yaml.Node { return yamlnode.Deref(n) }

func isNull(n *yaml.Node) bool { return yamlnode.IsNull(n) }

// kindName describes n without its value: for messages about secrets.
func kindName(n *yaml.Node) string { return yamlnode.KindName(n) }

// got describes n for a "want ..., got ..." message: a scalar by its
// (quoted, shortened) value, anything else by its kind.
func got(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return strconv.Quote(truncate(n.Value, 60))
	}
	return kindName(n)
}

// str decodes a non-null scalar without a NUL. Any scalar is taken by its
// text, as cloud-init's str() would (hostname: 1234 is the string "1234").
func (p *parser) str(n *yaml.Node, path string) (string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", p.errorf(n, path, "want a string, got %s", kindName(n))
	}
	return n.Value, p.noNUL(n, path, n.Value)
}

// noNUL rejects a string with a NUL byte, which no system call, command
// argument or line of a configuration file can carry. The message does
// not show the value, which may be a secret.
func (p *parser) noNUL(n *yaml.Node, path, s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return p.errorf(n, path, "want a string without NUL bytes, got one with a NUL at byte %d", i)
	}
	return nil
}

// control returns the first control character (C0, DEL or C1) of s that
// is not in allowed, and its byte offset; the offset is -1 when s has none.
func control(s, allowed string) (rune, int) {
	for i, r := range s {
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			return r, i
		}
	}
	return 0, -1
}

// noControl rejects a string s with a control character other than those
// in allowed: a value that names a file or an account, or that becomes one
// line of a file, has no use for one. want describes the value expected.
func (p *parser) noControl(n *yaml.Node, path, s, allowed, want string) error {
	if r, at := control(s, allowed); at >= 0 {
		return p.errorf(n, path, "want %s without control characters, got %s (%U at byte %d)", want, got(n), r, at)
	}
	return nil
}

// yaml11Bools are YAML 1.1's booleans, which cloud-init's PyYAML reads and
// yaml.v3 (YAML 1.2) leaves as strings when written without quotes.
var yaml11Bools = map[string]bool{
	"true": true, "True": true, "TRUE": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"false": false, "False": false, "FALSE": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// boolean decodes true/false (and YAML 1.1's yes/no/on/off when unquoted).
func (p *parser) boolean(n *yaml.Node, path string) (bool, error) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Style == 0) {
		if b, ok := yaml11Bools[n.Value]; ok {
			return b, nil
		}
	}
	return false, p.errorf(n, path, "want true or false, got %s", got(n))
}

// integer decodes a YAML integer.
func (p *parser) integer(n *yaml.Node, path string) (int, error) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return int(v), nil
		}
	}
	return 0, p.errorf(n, path, "want an integer, got %s", got(n))
}

// list decodes a sequence.
func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, path, "want a list, got %s", got(n))
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		items[i] = deref(item)
	}
	return items, nil
}

// mapping decodes a mapping (see parser.fields).
func (p *parser) mapping(n *yaml.Node, path string) ([]field, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, path, "want a mapping, got %s", got(n))
	}
	return p.fields(n, path+"."), nil
}

// strList decodes a list of strings; check, when not nil, vets each item.
func (p *parser) strList(n *yaml.Node, path string, check func(*yaml.Node, string, string) error) ([]string, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		s, err := p.str(item, itemPath)
		if err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(item, itemPath, s); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// oneLine rejects empty strings, strings with a line break and other
// control characters but tabs: every list item of this package ends up as
// one line of some file.
func (p *parser) oneLine(n *yaml.Node, path, s string) error {
	if strings.TrimSpace(s) == "" {
		return p.errorf(n, path, "want a non-empty string, got %s", got(n))
	}
	if strings.ContainsAny(s, "\r\n") {
		return p.errorf(n, path, "want a single line, got %s", got(n))
	}
	return p.noControl(n, path, s, "\t", "a line")
}

// sshKeys decodes a list of authorized_keys lines (a single string is one key).
func (p *parser) sshKeys(n *yaml.Node, path string) ([]string, error) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if err := p.oneLine(n, path, n.Value); err != nil {
			return nil, err
		}
		return []string{n.Value}, nil
	}
	return p.strList(n, path, p.oneLine)
}

// hostName decodes an RFC 1123 host name (dot-separated labels of letters,
// digits and inner hyphens, at most 63 bytes each, 253 in all).
func (p *parser) hostName(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	if !validHostName(s) {
		return "", p.errorf(n, path, "want an RFC 1123 host name, got %s", got(n))
	}
	return s, nil
}

// hostOrIP decodes a host name or an IP address.
func (p *parser) hostOrIP(n *yaml.Node, path, s string) error {
	if _, err := netip.ParseAddr(s); err == nil || validHostName(s) {
		return nil
	}
	return p.errorf(n, path, "want a host name or IP address, got %s", got(n))
}

func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !validLabel(label, 63) {
			return false
		}
	}
	return true
}

// validLabel reports whether s is 1..max letters, digits and hyphens, with
// no hyphen at either end.
func validLabel(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != '-' {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
