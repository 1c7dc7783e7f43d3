package cloudconfig

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
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
			a.NodeLabels, err = p.strList(f.value, keyPath, p.nodeLabel)
		case "node_taints":
			a.NodeTaints, err = p.strList(f.value, keyPath, p.nodeTaint)
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
	if strings.TrimSpace(n.Value) == "" || strings.ContainsAny(n.Value, " \t\r\n") {
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

var (
	// labelName is a Kubernetes label name or value (without the length limit).
	labelName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	// labelPrefix is a DNS subdomain (lower-case RFC 1123 labels).
	labelPrefix = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// taintEffects are the effects Kubernetes knows.
	taintEffects = map[string]bool{"NoSchedule": true, "PreferNoSchedule": true, "NoExecute": true}
)

// nodeLabel vets "key=value".
func (p *parser) nodeLabel(n *yaml.Node, path, s string) error {
	key, value, ok := strings.Cut(s, "=")
	if !ok || !validLabelKey(key) || !validLabelValue(value) {
		return p.errorf(n, path, "want a Kubernetes label \"key=value\", got %s", got(n))
	}
	return nil
}

// nodeTaint vets "key=value:Effect" or "key:Effect".
func (p *parser) nodeTaint(n *yaml.Node, path, s string) error {
	kv, effect, ok := strings.Cut(s, ":")
	key, value, _ := strings.Cut(kv, "=")
	if !ok || !taintEffects[effect] || !validLabelKey(key) || !validLabelValue(value) {
		return p.errorf(n, path, "want a taint \"key=value:Effect\" (Effect NoSchedule, PreferNoSchedule or NoExecute), got %s", got(n))
	}
	return nil
}

func validLabelKey(key string) bool {
	name := key
	if prefix, rest, ok := strings.Cut(key, "/"); ok {
		if len(prefix) > 253 || !labelPrefix.MatchString(prefix) {
			return false
		}
		name = rest
	}
	return len(name) <= 63 && labelName.MatchString(name)
}

func validLabelValue(value string) bool {
	return value == "" || len(value) <= 63 && labelName.MatchString(value)
}
