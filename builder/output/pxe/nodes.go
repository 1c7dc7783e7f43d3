package pxe

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// Node configs: one #cloud-config document per role under nodes/, and one
// per inventory node with a MAC. boot.ipxe picks a node's by its MAC, else
// the one named by the iPXE setting nodecfg (which a site's DHCP server or
// an earlier iPXE script may set, e.g. to nodes/server.yaml), else the
// default role's, and passes it with its digest as firstboot.config.

// NodesDir is the node configs' directory in the bundle.
const NodesDir = "nodes"

// Node is an inventory entry the bundle knows by MAC.
type Node struct {
	Hostname, MAC, Role string
}

// nodeConfig is one generated document.
type nodeConfig struct {
	name   string // path in the bundle, e.g. nodes/agent.yaml
	data   []byte
	sha256 string
	// agentToken says data holds the agent join token.
	agentToken bool
}

// roleConfig is the #cloud-config of role: the operator's user-data for it
// (userData, may be nil) with appliance.role set, when setRole, and
// appliance.token set to token, when not "". Only agents' configs get a
// token, the agent join token: the network serves no server secret.
func roleConfig(site, what, role string, userData []byte, setRole bool, token string) ([]byte, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(userData)) > 0 {
		if err := yaml.Unmarshal(userData, &doc); err != nil {
			return nil, fmt.Errorf("user-data for role %s: %w", role, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("user-data for role %s: want a mapping at the top", role)
	}
	if setRole {
		setScalar(mappingValue(root, "appliance"), "role", role)
	}
	if token != "" {
		setScalar(mappingValue(root, "appliance"), "token", token)
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if len(root.Content) > 0 {
		if err := enc.Encode(&doc); err != nil {
			return nil, err
		}
	}
	out := fmt.Sprintf("%s\n# %s: %s, made by builder from site.yaml.\n%s", cloudconfig.Header, site, what, body.String())
	// What firstboot will do with it: a document it rejects fails here.
	cfg, _, err := cloudconfig.Parse(what, []byte(out))
	if err != nil {
		return nil, err
	}
	if setRole && cfg.Appliance.Role != role {
		return nil, fmt.Errorf("%s: role %q after generation, want %q", what, cfg.Appliance.Role, role)
	}
	if token != "" && cfg.Appliance.Token.Reveal() != token {
		return nil, fmt.Errorf("%s: appliance.token after generation is not the agent join token", what)
	}
	return []byte(out), nil
}

// mappingValue returns the mapping under key in m, adding an empty one.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind != yaml.MappingNode {
				*v = yaml.Node{Kind: yaml.MappingNode}
			}
			return v
		}
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

func setScalar(m *yaml.Node, key, value string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Value: value}
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// nodeConfigs makes the role configs and the inventory nodes' configs
// (opts as withDefaults leaves it: nodes sorted by hostname).
// An inventory node's config carries its role's user-data but no role:
// the image's inventory decides a listed node's role, hostname and
// address, as on any other medium.
func nodeConfigs(site, agentToken string, opts Options) ([]nodeConfig, error) {
	var cs []nodeConfig
	add := func(name, role string, data []byte) {
		cs = append(cs, nodeConfig{
			name: NodesDir + "/" + name, data: data, sha256: sha256Hex(data),
			agentToken: agentToken != "" && role == nodeconfig.RoleAgent,
		})
	}
	tokenOf := func(role string) string {
		if role == nodeconfig.RoleAgent {
			return agentToken
		}
		return ""
	}
	for _, role := range []string{nodeconfig.RoleAgent, nodeconfig.RoleServer} {
		data, err := roleConfig(site, "node config for role "+role, role, opts.UserData[role], true, tokenOf(role))
		if err != nil {
			return nil, err
		}
		add(role+".yaml", role, data)
	}
	for _, n := range opts.Nodes {
		if n.MAC == "" {
			continue
		}
		if n.Hostname == nodeconfig.RoleAgent || n.Hostname == nodeconfig.RoleServer {
			return nil, fmt.Errorf("inventory node %q: the name is taken by a role's node config", n.Hostname)
		}
		data, err := roleConfig(site, "node config for "+n.Hostname+" (role "+n.Role+")", n.Role, opts.UserData[n.Role], false, tokenOf(n.Role))
		if err != nil {
			return nil, err
		}
		add(n.Hostname+".yaml", n.Role, data)
	}
	return cs, nil
}

// nodeSelection is the part of boot.ipxe that sets nodecfg and
// nodecfgsum. nodecfgsum is cleared first (an earlier script may have set
// it) and set only when nodecfg equals one of configs' names, so the
// script's kernel line passes on no other nodecfg (bootScript). Every
// value it writes is checked first (scriptvalues.go).
func nodeSelection(opts Options, configs []nodeConfig) (string, error) {
	if err := checkOptions(opts); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("clear nodecfgsum ||\n")
	fmt.Fprintf(&b, "isset ${nodecfg} || set nodecfg %s/%s.yaml\n", NodesDir, opts.DefaultRole)
	for _, n := range opts.Nodes {
		if n.MAC != "" {
			fmt.Fprintf(&b, "iseq ${mac} %s && set nodecfg %s/%s.yaml ||\n", n.MAC, NodesDir, n.Hostname)
		}
	}
	for _, c := range configs {
		if err := bootparam.CheckArg(bootparam.ArgConfig + "=" + c.name); err != nil {
			return "", fmt.Errorf("node config name: %w", err)
		}
		if err := bootparam.CheckSHA256(c.sha256); err != nil {
			return "", fmt.Errorf("node config %s: %w", c.name, err)
		}
		fmt.Fprintf(&b, "iseq ${nodecfg} %s && set nodecfgsum %s=%s ||\n", c.name, argConfigSHA256, c.sha256)
	}
	return b.String(), nil
}
