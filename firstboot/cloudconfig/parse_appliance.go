package cloudconfig

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/nodelabels"
	"gopkg.in/yaml.v3"
)

const applianceKeys = "role, cluster_init, server, token, node_labels, node_taints, node_ip"

// appliance decodes firstboot's appliance key. Unlike cloud-init keys, an
// unknown sub-key is an error. The token never appears in a message.
func (p *parser) appliance(n *yaml.Node) (Appliance, error) {
	fields, err := p.mapping(n, "appliance")
	if err != nil {
		return Appliance{}, err
	}
	a := Appliance{Set: map[string]bool{}}
	var clusterInit *yaml.Node
	for _, f := range fields {
		keyPath := "appliance." + f.key.Value
		switch f.key.Value {
		case "role":
			a.Role, err = p.str(f.value, keyPath)
			if err == nil && a.Role != nodeconfig.RoleServer && a.Role != nodeconfig.RoleAgent {
				err = p.errorf(f.value, keyPath, "want %q or %q, got %s", nodeconfig.RoleServer, nodeconfig.RoleAgent, got(f.value))
			}
		case "cluster_init":
			clusterInit = f.value
			a.ClusterInit, err = p.boolean(f.value, keyPath)
		case "server":
			a.Server, err = p.serverURL(f.value, keyPath)
		case "token":
			a.Token, err = p.token(f.value, keyPath)
		case "node_labels":
			a.NodeLabels, err = p.nodeList(f.value, keyPath, nodelabels.CheckLabels)
		case "node_taints":
			a.NodeTaints, err = p.nodeList(f.value, keyPath, nodelabels.CheckTaints)
		case "node_ip":
			a.NodeIP, err = p.nodeIP(f.value, keyPath)
		default:
			return Appliance{}, p.errorf(f.key, "appliance", "unknown key %q (known: %s)", f.key.Value, applianceKeys)
		}
		if err != nil {
			return Appliance{}, err
		}
		a.Set[f.key.Value] = true
	}
	if a.ClusterInit && a.Set["role"] && a.Role != nodeconfig.RoleServer {
		return Appliance{}, p.errorf(clusterInit, "appliance.cluster_init", "only valid with role %q, got role %q", nodeconfig.RoleServer, a.Role)
	}
	if len(a.Set) == 0 {
		a.Set = nil
	}
	return a, nil
}

// Validate checks what only a merged config can show: cluster_init set by
// one source and role by another. Call it on the result of Merge.
func (a Appliance) Validate() error {
	if a.ClusterInit && a.Role != nodeconfig.RoleServer {
		return fmt.Errorf("appliance.cluster_init: only valid with role %q, got role %q", nodeconfig.RoleServer, a.Role)
	}
	return nil
}

// serverURL decodes the https URL of the server to join.
func (p *parser) serverURL(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		// user:password@ may hold a secret: do not echo the value.
		return "", p.errorf(n, path, "want an https URL without user info, got one with user info (not shown)")
	}
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" {
		return "", p.errorf(n, path, "want an https URL such as \"https://10.0.0.1:6443\", got %s", got(n))
	}
	return s, nil
}

// token decodes the join token; messages give its kind, never its value.
func (p *parser) token(n *yaml.Node, path string) (Secret, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", p.errorf(n, path, "want a string, got %s", kindName(n))
	}
	if _, at := control(n.Value, ""); strings.TrimSpace(n.Value) == "" || strings.ContainsAny(n.Value, " \t\r\n") || at >= 0 {
		return "", p.errorf(n, path, "want a non-empty token without blanks, got a value that is not one (not shown)")
	}
	return Secret(n.Value), nil
}

func (p *parser) nodeIP(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return "", p.errorf(n, path, "want an IP address, got %s", got(n))
	}
	return ip.String(), nil
}

// nodeList decodes a list of node labels or taints and checks it with
// check, the rule set the builder checks the site's inventory with (package
// nodelabels), so both refuse the same items in the same words. The first
// problem is the error.
func (p *parser) nodeList(n *yaml.Node, path string, check func([]string) []nodelabels.Problem) ([]string, error) {
	list, err := p.strList(n, path, nil)
	if err != nil {
		return nil, err
	}
	probs := check(list)
	if len(probs) == 0 {
		return list, nil
	}
	items, _ := p.list(n, path) // strList took it: a list
	item := func(i int) string { return fmt.Sprintf("%s[%d]", path, i) }
	return nil, p.errorf(items[probs[0].Index], item(probs[0].Index), "%s", probs[0].Message(item))
}
