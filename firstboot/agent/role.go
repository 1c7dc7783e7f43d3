package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// RoleInput is what the role and hostname decision looks at.
type RoleInput struct {
	Config nodeconfig.Config
	// Role is an explicit role (user-data appliance.role), or "".
	Role string
	// Hostname is an explicit hostname and HostnameFrom where it came from
	// ("user-data hostname"), or "".
	Hostname, HostnameFrom string
	// MACs are the node's NIC addresses, lower case, sorted.
	MACs []string
}

// Decision is the node's role and hostname, with why each was chosen.
type Decision struct {
	Role, RoleWhy         string
	Hostname, HostnameWhy string
}

// Decide picks the role (explicit, else the inventory entry matching a MAC or
// the explicit hostname, else the default role) and the hostname (explicit,
// else the inventory entry's, else <site>-<last 3 bytes of the first MAC>).
func Decide(in RoleInput) (Decision, error) {
	var d Decision
	entry, matchWhy := matchInventory(in)
	switch {
	case in.Role != "":
		d.Role, d.RoleWhy = in.Role, "user-data appliance.role"
	case entry != nil:
		d.Role, d.RoleWhy = entry.Role, matchWhy
	case in.Config.DefaultRole != "":
		d.Role, d.RoleWhy = in.Config.DefaultRole, fmt.Sprintf("no inventory entry matches MACs %s, default role", macList(in.MACs))
	default:
		return Decision{}, fmt.Errorf("no inventory entry matches MACs %s and the node config has no default role", macList(in.MACs))
	}
	if d.Role != nodeconfig.RoleServer && d.Role != nodeconfig.RoleAgent {
		return Decision{}, fmt.Errorf("role %q (%s): want %q or %q", d.Role, d.RoleWhy, nodeconfig.RoleServer, nodeconfig.RoleAgent)
	}
	switch {
	case in.Hostname != "":
		d.Hostname, d.HostnameWhy = in.Hostname, in.HostnameFrom
	case entry != nil:
		d.Hostname, d.HostnameWhy = entry.Hostname, matchWhy
	case len(in.MACs) > 0:
		m := strings.ReplaceAll(in.MACs[0], ":", "")
		d.Hostname = in.Config.Site + "-" + m[len(m)-6:]
		d.HostnameWhy = fmt.Sprintf("site %s, MAC %s", in.Config.Site, in.MACs[0])
	default:
		return Decision{}, errors.New("no hostname given, no inventory entry matches, and no NIC MAC to derive one from")
	}
	d.Hostname = strings.ToLower(d.Hostname)
	if !validHostname(d.Hostname) {
		return Decision{}, fmt.Errorf("hostname %q (%s) is not a valid host name", d.Hostname, d.HostnameWhy)
	}
	return d, nil
}

func matchInventory(in RoleInput) (*nodeconfig.Node, string) {
	for _, mac := range in.MACs {
		for i, n := range in.Config.Nodes {
			if n.MAC != "" && strings.EqualFold(n.MAC, mac) {
				return &in.Config.Nodes[i], fmt.Sprintf("inventory entry %s matches MAC %s", n.Hostname, mac)
			}
		}
	}
	if in.Hostname != "" {
		for i, n := range in.Config.Nodes {
			if n.Hostname == in.Hostname {
				return &in.Config.Nodes[i], fmt.Sprintf("inventory entry %s matches %s", n.Hostname, in.HostnameFrom)
			}
		}
	}
	return nil, ""
}

func macList(macs []string) string {
	if len(macs) == 0 {
		return "(none found)"
	}
	return strings.Join(macs, ", ")
}

var hostnameLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validHostname accepts RFC 1123 names in lower case, up to 253 characters.
func validHostname(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if !hostnameLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// NICMACs lists the MAC addresses of physical NICs (those with a device
// link in root/sys/class/net/<nic>), lower case, sorted by NIC name.
func NICMACs(root string) ([]string, error) {
	netDir := filepath.Join(root, "sys/class/net")
	entries, err := os.ReadDir(netDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list NICs %s: %w", netDir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var macs []string
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(netDir, name, "device")); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(netDir, name, "address"))
		if err != nil {
			return nil, fmt.Errorf("read MAC of %s: %w", name, err)
		}
		mac := strings.ToLower(strings.TrimSpace(string(data)))
		if mac == "" || mac == "00:00:00:00:00:00" {
			continue
		}
		macs = append(macs, mac)
	}
	return macs, nil
}

// decideRole decides the role and hostname once and records them.
func decideRole(_ context.Context, env *Env) error {
	macs, err := NICMACs(env.Root)
	if err != nil {
		return err
	}
	in := RoleInput{Config: env.Config, MACs: macs}
	if s := env.Seed; s != nil {
		in.Role = s.User.Role
		switch {
		case s.User.Hostname != "":
			in.Hostname, in.HostnameFrom = s.User.Hostname, "user-data hostname"
		case s.User.FQDN != "":
			in.Hostname, in.HostnameFrom = strings.SplitN(s.User.FQDN, ".", 2)[0], "user-data fqdn"
		case s.Meta.LocalHostname != "":
			in.Hostname, in.HostnameFrom = s.Meta.LocalHostname, "meta-data local-hostname"
		}
	}
	d, err := Decide(in)
	if err != nil {
		return err
	}
	env.Role, env.Hostname = d.Role, d.Hostname
	env.Note("role", d.Role)
	env.Note("roleWhy", d.RoleWhy)
	env.Note("hostname", d.Hostname)
	env.Note("hostnameWhy", d.HostnameWhy)
	env.Printf("role=%s (%s)", d.Role, d.RoleWhy)
	env.Printf("hostname=%s (%s)", d.Hostname, d.HostnameWhy)
	return nil
}

// restoreRole takes the recorded decision on later boots.
func restoreRole(_ context.Context, env *Env, rec Record) error {
	env.Role, env.Hostname = rec.Values["role"], rec.Values["hostname"]
	if env.Role == "" || env.Hostname == "" {
		return fmt.Errorf("record of %s lacks role or hostname: %v", rec.Step, rec.Values)
	}
	env.Printf("role=%s hostname=%s (recorded)", env.Role, env.Hostname)
	return nil
}
