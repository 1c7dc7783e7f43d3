package datasource

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// argDS is cloud-init's datasource key: ds=nocloud[;key=value...].
const argDS = "ds"

// noCloudArg is a ds=nocloud argument that names something to read.
type noCloudArg struct {
	// arg is the argument as written: "ds=nocloud;s=http://x/seed/".
	arg string
	// seedFrom is the seed directory, its path ending in "/"; nil without s=.
	seedFrom             *url.URL
	hostname, instanceID string
}

// configArg is a firstboot.config argument.
type configArg struct {
	// arg is the argument as written: "firstboot.config=/etc/x.yaml".
	arg      string
	location *url.URL
	// sha256 is the wanted digest in lower-case hex, "" when not given.
	sha256 string
}

// cmdlineArgs are the kernel command line arguments Gather reads.
type cmdlineArgs struct {
	noCloud *noCloudArg
	config  *configArg
	// otherDS is the value of a ds= naming another datasource.
	otherDS string
}

// noCloudKeys maps the keys of ds=nocloud to their long forms.
var noCloudKeys = map[string]string{
	"h": "local-hostname", "local-hostname": "local-hostname",
	"i": "instance-id", "instance-id": "instance-id",
	"s": "seedfrom", "seedfrom": "seedfrom",
}

func parseCmdline(cmdline string) (cmdlineArgs, error) {
	kv := bootparam.ParseCmdline(cmdline)
	var args cmdlineArgs
	if value, ok := kv[argDS]; ok {
		nc, ours, err := parseNoCloud(value)
		if err != nil {
			return cmdlineArgs{}, fmt.Errorf("kernel command line %s=%s: %w", argDS, value, err)
		}
		if !ours {
			args.otherDS = value
		}
		args.noCloud = nc
	}
	config, err := parseConfig(kv)
	if err != nil {
		return cmdlineArgs{}, fmt.Errorf("kernel command line %w", err)
	}
	args.config = config
	return args, nil
}

// parseNoCloud parses the value of ds=. ours is false when it names
// another datasource; the argument is nil when it names nothing to read.
func parseNoCloud(value string) (arg *noCloudArg, ours bool, err error) {
	name, rest, _ := strings.Cut(value, ";")
	if name != "nocloud" && name != "nocloud-net" {
		return nil, false, nil
	}
	arg = &noCloudArg{arg: argDS + "=" + value}
	seen := map[string]bool{}
	for _, item := range strings.Split(rest, ";") {
		if item == "" {
			continue
		}
		key, val, ok := strings.Cut(item, "=")
		if !ok {
			return nil, true, fmt.Errorf("%q: want key=value", item)
		}
		long, known := noCloudKeys[key]
		switch {
		case !known:
			return nil, true, fmt.Errorf("unknown key %q (known: h, i, s and their long forms local-hostname, instance-id, seedfrom)", key)
		case seen[long]:
			return nil, true, fmt.Errorf("%s given twice", long)
		case val == "":
			return nil, true, fmt.Errorf("%s: empty value", key)
		}
		seen[long] = true
		switch long {
		case "local-hostname":
			arg.hostname = val
		case "instance-id":
			arg.instanceID = val
		case "seedfrom":
			if arg.seedFrom, err = parseSeedFrom(val); err != nil {
				return nil, true, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if arg.seedFrom == nil && arg.hostname == "" && arg.instanceID == "" {
		return nil, true, nil
	}
	return arg, true, nil
}

// parseSeedFrom parses a seed directory and ends its path with "/".
func parseSeedFrom(s string) (*url.URL, error) {
	u, err := parseLocation(s)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: a seed directory URL takes no query or fragment", s)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

func parseConfig(kv map[string]string) (*configArg, error) {
	value, ok := kv[bootparam.ArgConfig]
	sum, hasSum := kv[bootparam.ArgConfigSHA256]
	if !ok {
		if hasSum {
			return nil, fmt.Errorf("has %s= but no %s=", bootparam.ArgConfigSHA256, bootparam.ArgConfig)
		}
		return nil, nil
	}
	arg := &configArg{arg: bootparam.ArgConfig + "=" + value}
	if value == "" {
		return nil, fmt.Errorf("%s: empty value", arg.arg)
	}
	var err error
	if base, ok := kv[bootparam.ArgOSBase]; ok && isRelativeRef(value) {
		// A netbooted node's per-role config sits next to its boot script
		// (PXE bundle), named relative to the script's URL like the OS image.
		if value, err = resolveAgainst(base, value); err != nil {
			return nil, fmt.Errorf("%s: %w", arg.arg, err)
		}
		arg.arg += " (" + value + ")"
	}
	if arg.location, err = parseLocation(value); err != nil {
		return nil, fmt.Errorf("%s: %w", arg.arg, err)
	}
	if hasSum {
		arg.sha256 = strings.ToLower(sum)
		if b, err := hex.DecodeString(arg.sha256); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%s=%s: want 64 hex digits", bootparam.ArgConfigSHA256, sum)
		}
	}
	return arg, nil
}

// isRelativeRef tells whether s is a relative URL reference: no scheme
// and not an absolute path.
func isRelativeRef(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && !strings.HasPrefix(s, "/")
}

// resolveAgainst resolves the relative reference ref against the http(s)
// URL base (appliance.os.base).
func resolveAgainst(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
		return "", fmt.Errorf("%q is relative, and %s=%s is not an http(s) URL to resolve it against", ref, bootparam.ArgOSBase, base)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%q: %w", ref, err)
	}
	return b.ResolveReference(r).String(), nil
}

// parseLocation parses an http://, https:// or file:// URL or an absolute
// path, which it returns as a file URL.
func parseLocation(s string) (*url.URL, error) {
	if strings.HasPrefix(s, "/") {
		return &url.URL{Scheme: "file", Path: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("%q has no host", s)
		}
	case "file":
		if u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("%q: want file:///absolute/path (a file on this node)", s)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q: a file URL takes no query or fragment", s)
		}
	case "":
		return nil, fmt.Errorf("%q: want an http://, https:// or file:// URL or an absolute path", s)
	default:
		return nil, fmt.Errorf("%q: unsupported scheme %q (want http, https, file or an absolute path)", s, u.Scheme)
	}
	return u, nil
}
