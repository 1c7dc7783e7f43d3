package cloudconfig

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// Header is the first line of a cloud-config document.
const Header = "#cloud-config"

// Parse parses a #cloud-config document. source names it in every message
// ("seed /dev/vdb user-data", "kernel command line firstboot.config=...").
//
// An empty document gives a zero Config. A document whose first line is not
// #cloud-config (a script, MIME multi-part, a jinja template) is ignored with
// a warning. Unsupported keys give warnings "<source> line N: key "k" is not
// supported, ignored"; the first bad value of a known key is an error
// "<source> line N: <key path>: want ..., got ...", and then nothing else is
// returned.
func Parse(source string, data []byte) (Config, []string, error) {
	return parse(source, data, contentLimits{file: MaxFileBytes, total: MaxWriteFilesBytes})
}

// contentLimits bound the decoded write_files content of one document:
// one entry's, and all entries' together. Parse takes MaxFileBytes and
// MaxWriteFilesBytes; the fuzz test takes smaller ones, so that an input
// that tests a bound costs microseconds, not the 64 MiB of gzip it takes
// to reach MaxWriteFilesBytes.
type contentLimits struct{ file, total int64 }

func parse(source string, data []byte, limits contentLimits) (Config, []string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, nil, nil
	}
	first, _, _ := strings.Cut(string(data), "\n")
	first = strings.TrimRight(first, " \t\r")
	if first != Header {
		return Config{}, []string{fmt.Sprintf("%s: %s, not %q: file ignored", source, documentKind(first), Header)}, nil
	}
	root, err := yamlnode.TopLevel(source, data)
	if err != nil || root == nil {
		return Config{}, nil, err
	}
	p := &parser{source: source, limits: limits}
	var c Config
	for _, f := range p.fields(root, "") {
		known, err := p.topLevelKey(&c, f)
		if err != nil {
			return Config{}, nil, err
		}
		if !known {
			p.unsupported(f.key, f.key.Value)
			continue
		}
		if c.Set == nil {
			c.Set = map[string]bool{}
		}
		c.Set[f.key.Value] = true
	}
	return c, p.warnings, nil
}

// topLevelKey decodes one top-level key into c and says whether it is one
// firstboot reads.
func (p *parser) topLevelKey(c *Config, f field) (bool, error) {
	var err error
	switch key := f.key.Value; key {
	case "hostname":
		c.Hostname, err = p.hostName(f.value, key)
	case "fqdn":
		c.FQDN, err = p.hostName(f.value, key)
	case "users":
		c.Users, c.IncludeDefaultUser, err = p.users(f.value)
	case "ssh_authorized_keys":
		c.SSHAuthorizedKeys, err = p.sshKeys(f.value, key)
	case "write_files":
		c.WriteFiles, err = p.writeFiles(f.value)
	case "runcmd", "bootcmd":
		var cmds []Command
		cmds, err = p.commands(f.value, key)
		if key == "runcmd" {
			c.RunCmd = cmds
		} else {
			c.BootCmd = cmds
		}
	case "ntp":
		c.NTP, err = p.ntp(f.value)
	case "timezone":
		c.Timezone, err = p.timezone(f.value)
	case "appliance":
		c.Appliance, err = p.appliance(f.value)
	default:
		return false, nil
	}
	return true, err
}

// parser carries the source name and the warnings of one Parse, and the
// write_files content decoded so far.
type parser struct {
	source       string
	warnings     []string
	limits       contentLimits
	contentBytes int64
}

// errorf returns "<source> line N: <path>: <message>" for node n.
func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) error {
	return fmt.Errorf("%s line %d: %s: %s", p.source, n.Line, path, fmt.Sprintf(format, args...))
}

// warnf records "<source> line N: <message>" for node n.
func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf("%s line %d: %s", p.source, n.Line, fmt.Sprintf(format, args...)))
}

// unsupported records that the key at path is ignored.
func (p *parser) unsupported(key *yaml.Node, path string) {
	p.warnf(key, "key %q is not supported, ignored", path)
}

type field struct {
	key, value *yaml.Node
}

// fields returns the fields of mapping n in file order and warns about a
// repeated key, of which the last counts, as with cloud-init's PyYAML.
// prefix is the path of n followed by a dot, or "" at the top level.
func (p *parser) fields(n *yaml.Node, prefix string) []field {
	fields := make([]field, 0, len(n.Content)/2)
	firstLine := map[string]int{}
	for key, value := range yamlnode.Pairs(n) {
		fields = append(fields, field{key: key, value: value})
		if line, ok := firstLine[key.Value]; ok {
			p.warnf(key, "key %q repeats line %d, the last one counts", prefix+key.Value, line)
			continue
		}
		firstLine[key.Value] = key.Line
	}
	return fields
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// documentKind names what a first line that is not Header starts, without
// quoting the line: the document may hold a secret.
func documentKind(first string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"#!", `a script ("#!")`},
		{"## template:", `a cloud-init template ("## template:")`},
		{"Content-Type:", `a MIME document ("Content-Type:")`},
		{"#include", `an include list ("#include")`},
		{"#cloud-boothook", `a boothook ("#cloud-boothook")`},
	} {
		if strings.HasPrefix(first, k.prefix) {
			return k.kind
		}
	}
	return fmt.Sprintf("a document whose first line (%d bytes) is not the header", len(first))
}
