// Package nodeconfig is the contract between the builder, which bakes a node
// config into every image at Path, and firstboot, which reads it on the node.
//
// The same image serves every node of a site: the baked config carries the
// site's inventory, and firstboot decides which entry (if any) is this node.
//
// The config holds no secret. The cluster's secrets (tokens, CA keys, the S3
// secret key of etcd snapshots) never enter the image: they travel in a
// secrets volume (package clustersecrets) and land, on a node, as root-only
// files under SecretsDir, named by the constants in cluster.go; the config
// only says which of them the site has.
package nodeconfig

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Path is where the builder writes the node config in the OS image.
const Path = "/etc/appliance/node.yaml"

// APIVersion and Kind identify the document.
const (
	APIVersion = "appliance/v1alpha1"
	Kind       = "NodeConfig"
)

// Roles a node can take.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// Config is the baked node config.
type Config struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Site is the site's metadata.name.
	Site string `yaml:"site"`
	// DefaultRole is the role of a node the inventory does not list.
	DefaultRole string `yaml:"defaultRole"`
	// Nodes is the site's inventory.
	Nodes []Node `yaml:"nodes,omitempty"`
	// SSHAuthorizedKeys are installed for root.
	SSHAuthorizedKeys []string `yaml:"sshAuthorizedKeys,omitempty"`
	// Cluster is what every node needs to form or join the K3s cluster;
	// nil in an image without K3s.
	Cluster *Cluster `yaml:"cluster,omitempty"`
}

// Node is one inventory entry. A node matches by MAC (any of its NICs), by
// Serial (its DMI system serial number) or, failing both, by hostname.
type Node struct {
	Hostname string `yaml:"hostname"`
	MAC      string `yaml:"mac,omitempty"`
	// Serial is the machine's DMI system serial number, as the kernel shows
	// it in /sys/class/dmi/id/product_serial (surrounding spaces trimmed).
	Serial string `yaml:"serial,omitempty"`
	Role   string `yaml:"role"`
	// Init marks the server that initialises the cluster.
	Init bool `yaml:"init,omitempty"`
	// Address is a static address in CIDR form; empty means DHCP. With it,
	// Cluster.Network gives the gateway, DNS and NTP servers.
	Address string `yaml:"address,omitempty"`
	// Labels are Kubernetes node labels, each "key=value", that the node
	// registers with (K3s node-label).
	Labels []string `yaml:"labels,omitempty"`
	// Taints are node taints, each "key[=value]:Effect" (K3s node-taint).
	Taints []string `yaml:"taints,omitempty"`
}

// Marshal renders c as YAML with stable key order.
func Marshal(c Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode node config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode node config: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal parses a node config and rejects unknown keys.
func Unmarshal(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("parse node config: %w", err)
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return Config{}, fmt.Errorf("parse node config: want apiVersion %q kind %q, got %q %q", APIVersion, Kind, c.APIVersion, c.Kind)
	}
	return c, nil
}
