package cloudconfig

import "maps"

// Merge returns base overridden by over, as cloud-init merges user-data
// parts by default: each top-level key over has (over.Set) replaces base's
// whole value, lists included; appliance merges per sub-key (over.Appliance.Set).
// The result's Set maps are the unions. Neither argument is modified.
func Merge(base, over Config) Config {
	out := base
	out.Set = union(base.Set, over.Set)
	out.Appliance.Set = union(base.Appliance.Set, over.Appliance.Set)
	for key := range over.Set {
		switch key {
		case "hostname":
			out.Hostname = over.Hostname
		case "fqdn":
			out.FQDN = over.FQDN
		case "users":
			out.Users, out.IncludeDefaultUser = over.Users, over.IncludeDefaultUser
		case "ssh_authorized_keys":
			out.SSHAuthorizedKeys = over.SSHAuthorizedKeys
		case "write_files":
			out.WriteFiles = over.WriteFiles
		case "runcmd":
			out.RunCmd = over.RunCmd
		case "bootcmd":
			out.BootCmd = over.BootCmd
		case "ntp":
			out.NTP = over.NTP
		case "timezone":
			out.Timezone = over.Timezone
		case "appliance":
			mergeAppliance(&out.Appliance, over.Appliance)
		}
	}
	return out
}

func mergeAppliance(out *Appliance, over Appliance) {
	for key := range over.Set {
		switch key {
		case "role":
			out.Role = over.Role
		case "cluster_init":
			out.ClusterInit = over.ClusterInit
		case "server":
			out.Server = over.Server
		case "token":
			out.Token = over.Token
		case "node_labels":
			out.NodeLabels = over.NodeLabels
		case "node_taints":
			out.NodeTaints = over.NodeTaints
		case "node_ip":
			out.NodeIP = over.NodeIP
		}
	}
}

// union returns a new map with the keys of a and b; nil when both are empty.
func union(a, b map[string]bool) map[string]bool {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]bool{}
	}
	maps.Copy(out, b)
	return out
}
