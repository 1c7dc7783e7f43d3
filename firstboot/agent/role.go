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
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// RoleInput is what the role and hostname decision looks at.
type RoleInput struct {
	Config nodeconfig.Config
	// Role is an explicit role (cloud-config appliance.role), or "";
	// ClusterInit is appliance.cluster_init with it.
	Role        string
	ClusterInit bool
	// Hostname is an explicit hostname and HostnameFrom where it came from
	// ("user-data hostname"), or "".
	Hostname, HostnameFrom string
	// MACs are the node's NIC addresses, lower case, sorted.
	MACs []string
	// Serial is the machine's DMI serial number, or "".
	Serial string
}

// Decision is the node's role and hostname, with why each was chosen.
type Decision struct {
	Role, RoleWhy string
	// ClusterInit is set for the server that initialises the cluster.
	ClusterInit           bool
	Hostname, HostnameWhy string
	// Entry is the inventory entry that matched, if any.
	Entry *nodeconfig.Node
}

// Decide picks the role (explicit, else the inventory entry matching a MAC,
// the DMI serial or the explicit hostname, in that order, else the default
// role) and the hostname (explicit, else the inventory entry's, else
// <site>-<last 3 bytes of the first MAC>). Only a server initialises the
// cluster: one given appliance.cluster_init, or the inventory's init entry
// when the role is not overridden.
func Decide(in RoleInput) (Decision, error) {
	var d Decision
	entry, matchWhy := matchInventory(in)
	d.Entry = entry
	switch {
	case in.Role != "":
		d.Role, d.RoleWhy, d.ClusterInit = in.Role, "user-data appliance.role", in.ClusterInit
	case entry != nil:
		d.Role, d.RoleWhy, d.ClusterInit = entry.Role, matchWhy, entry.Init
	case in.Config.DefaultRole != "":
		d.Role, d.RoleWhy = in.Config.DefaultRole, fmt.Sprintf("no inventory entry matches MACs %s%s, default role", macList(in.MACs), serialText(in.Serial))
	default:
		return Decision{}, fmt.Errorf("no inventory entry matches MACs %s%s and the node config has no default role", macList(in.MACs), serialText(in.Serial))
	}
	if d.Role != nodeconfig.RoleServer && d.Role != nodeconfig.RoleAgent {
		return Decision{}, fmt.Errorf("role %q (%s): want %q or %q", d.Role, d.RoleWhy, nodeconfig.RoleServer, nodeconfig.RoleAgent)
	}
	if d.ClusterInit && d.Role != nodeconfig.RoleServer {
		return Decision{}, fmt.Errorf("role %q (%s) with cluster-init: only a server initialises the cluster", d.Role, d.RoleWhy)
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

// matchInventory finds the node's entry: by MAC (NICs in name order), else
// by DMI serial, else by the explicit hostname.
func matchInventory(in RoleInput) (*nodeconfig.Node, string) {
	nodes := in.Config.Nodes
	for _, mac := range in.MACs {
		for i, n := range nodes {
			if n.MAC != "" && strings.EqualFold(n.MAC, mac) {
				return &nodes[i], fmt.Sprintf("inventory entry %s matches MAC %s", n.Hostname, mac)
			}
		}
	}
	if in.Serial != "" {
		for i, n := range nodes {
			if n.Serial != "" && n.Serial == in.Serial {
				return &nodes[i], fmt.Sprintf("inventory entry %s matches DMI serial %s", n.Hostname, in.Serial)
			}
		}
	}
	if in.Hostname != "" {
		for i, n := range nodes {
			if n.Hostname == in.Hostname {
				return &nodes[i], fmt.Sprintf("inventory entry %s matches %s", n.Hostname, in.HostnameFrom)
			}
		}
	}
	return nil, ""
}

func serialText(serial string) string {
	if serial == "" {
		return ""
	}
	return " or DMI serial " + serial
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

// dmiSerialPath is the machine's serial number as the firmware reports it
// (readable by root only).
const dmiSerialPath = "/sys/class/dmi/id/product_serial"

// DMISerial reads the DMI product serial under root, "" when there is none
// or it is a firmware placeholder.
func DMISerial(root string) string {
	data, err := os.ReadFile(filepath.Join(root, dmiSerialPath))
	if err != nil {
		return ""
	}
	serial := strings.TrimSpace(string(data))
	switch strings.ToLower(serial) {
	case "", "0", "none", "not specified", "default string", "to be filled by o.e.m.", "system serial number", "0123456789":
		return ""
	}
	return serial
}

// decideRole decides the role and hostname once and records them.
func decideRole(_ context.Context, env *Env) error {
	macs, err := NICMACs(env.Root)
	if err != nil {
		return err
	}
	app := env.Cloud.Appliance
	in := RoleInput{Config: env.Config, MACs: macs, Serial: DMISerial(env.Root), Role: app.Role, ClusterInit: app.ClusterInit}
	hostname, fqdn := env.Cloud.HostnameFQDN()
	switch {
	case env.Cloud.Hostname != "":
		in.Hostname, in.HostnameFrom = hostname, "user-data hostname"
	case fqdn != "":
		in.Hostname, in.HostnameFrom = hostname, "user-data fqdn"
	case env.Meta.LocalHostname != "":
		in.Hostname, in.HostnameFrom = env.Meta.LocalHostname, "meta-data local-hostname"
	}
	d, err := Decide(in)
	if err != nil {
		return err
	}
	env.Role, env.Hostname, env.ClusterInit = d.Role, d.Hostname, d.ClusterInit
	env.Note("role", d.Role)
	env.Note("roleWhy", d.RoleWhy)
	env.Note("hostname", d.Hostname)
	env.Note("hostnameWhy", d.HostnameWhy)
	if d.ClusterInit {
		env.Note("clusterInit", "true")
	}
	if d.Entry != nil {
		env.entryName = d.Entry.Hostname
		env.Note("inventory", d.Entry.Hostname)
	}
	env.Printf("role=%s%s (%s)", d.Role, initText(d.ClusterInit), d.RoleWhy)
	env.Printf("hostname=%s (%s)", d.Hostname, d.HostnameWhy)
	return nil
}

// restoreRole takes the recorded decision on later boots.
func restoreRole(_ context.Context, env *Env, rec Record) error {
	env.Role, env.Hostname = rec.Values["role"], rec.Values["hostname"]
	if env.Role == "" || env.Hostname == "" {
		return fmt.Errorf("record of %s lacks role or hostname: %v", rec.Step, rec.Values)
	}
	env.ClusterInit = rec.Values["clusterInit"] == "true"
	env.entryName = rec.Values["inventory"]
	env.Printf("role=%s%s hostname=%s (recorded)", env.Role, initText(env.ClusterInit), env.Hostname)
	return nil
}

func initText(clusterInit bool) string {
	if clusterInit {
		return " cluster-init"
	}
	return ""
}

// inventoryEntry is the node's inventory entry, nil when none matched.
func (e *Env) inventoryEntry() *nodeconfig.Node {
	if e.entryName == "" {
		return nil
	}
	for i, n := range e.Config.Nodes {
		if n.Hostname == e.entryName {
			return &e.Config.Nodes[i]
		}
	}
	return nil
}

// RoleRecord is the recorded role decision, for `firstboot status`.
type RoleRecord struct {
	Role, Hostname string
	ClusterInit    bool
	Decided        time.Time
}

// ReadRoleRecord reads the decide-role record under root; a zero
// RoleRecord when the step has not run.
func ReadRoleRecord(root string) (RoleRecord, error) {
	rec, done, err := readRecord(&Env{Root: root}, "decide-role")
	if err != nil || !done {
		return RoleRecord{}, err
	}
	return RoleRecord{Role: rec.Values["role"], Hostname: rec.Values["hostname"],
		ClusterInit: rec.Values["clusterInit"] == "true", Decided: rec.Completed}, nil
}
