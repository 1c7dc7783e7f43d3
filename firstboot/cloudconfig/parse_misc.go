package cloudconfig

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// commands decodes runcmd or bootcmd: each item a shell string or an argv list.
func (p *parser) commands(n *yaml.Node, key string) ([]Command, error) {
	items, err := p.list(n, key)
	if err != nil {
		return nil, err
	}
	cmds := make([]Command, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case item.Kind == yaml.ScalarNode && !isNull(item):
			if strings.TrimSpace(item.Value) == "" {
				return nil, p.errorf(item, path, "want a command, got %s", got(item))
			}
			if err := p.noNUL(item, path, item.Value); err != nil {
				return nil, err
			}
			cmds = append(cmds, Command{Shell: item.Value})
		case item.Kind == yaml.SequenceNode:
			argv, err := p.strList(item, path, nil)
			if err != nil {
				return nil, err
			}
			if len(argv) == 0 || argv[0] == "" {
				return nil, p.errorf(item, path, "want a command and its arguments, got %s", got(item))
			}
			cmds = append(cmds, Command{Argv: argv})
		default:
			return nil, p.errorf(item, path, "want a shell command string or a list of arguments, got %s", got(item))
		}
	}
	return cmds, nil
}

// NTPClientAuto and NTPClientTimesyncd are the ntp_client values firstboot
// accepts; auto means systemd-timesyncd, the only client in the image.
const (
	NTPClientAuto      = "auto"
	NTPClientTimesyncd = "systemd-timesyncd"
)

// ntp decodes ntp.
func (p *parser) ntp(n *yaml.Node) (*NTP, error) {
	n = deref(n)
	if isNull(n) {
		// ntp: with no value enables the module with its defaults.
		return &NTP{Enabled: true, Client: NTPClientAuto}, nil
	}
	fields, err := p.mapping(n, "ntp")
	if err != nil {
		return nil, err
	}
	ntp := &NTP{Enabled: true, Client: NTPClientAuto}
	for _, f := range fields {
		keyPath := "ntp." + f.key.Value
		switch f.key.Value {
		case "enabled":
			ntp.Enabled, err = p.boolean(f.value, keyPath)
		case "servers":
			ntp.Servers, err = p.strList(f.value, keyPath, p.hostOrIP)
		case "pools":
			ntp.Pools, err = p.strList(f.value, keyPath, p.hostOrIP)
		case "ntp_client":
			ntp.Client, err = p.str(f.value, keyPath)
			if err == nil && ntp.Client != NTPClientAuto && ntp.Client != NTPClientTimesyncd {
				err = p.errorf(f.value, keyPath, "want %q or %q (the only client in the image), got %s", NTPClientAuto, NTPClientTimesyncd, got(f.value))
			}
		default:
			p.unsupported(f.key, keyPath)
		}
		if err != nil {
			return nil, err
		}
	}
	return ntp, nil
}

// timezone decodes timezone: a zoneinfo name, relative, without "." or
// ".." elements.
func (p *parser) timezone(n *yaml.Node) (string, error) {
	tz, err := p.str(n, "timezone")
	if err != nil {
		return "", err
	}
	if !validZoneName(tz) {
		return "", p.errorf(n, "timezone", "want a zoneinfo name such as \"Europe/Berlin\", got %s", got(n))
	}
	return tz, nil
}

// validZoneName reports whether tz is slash-separated elements of letters,
// digits, '_', '-', '+' and '.', none of them empty, "." or "..".
func validZoneName(tz string) bool {
	if tz == "" {
		return false
	}
	for _, elem := range strings.Split(tz, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		for _, r := range elem {
			if !isAlnum(r) && !strings.ContainsRune("_-+.", r) {
				return false
			}
		}
	}
	return true
}
