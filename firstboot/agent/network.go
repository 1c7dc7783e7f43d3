package agent

import (
	"context"

	"github.com/ml-appliance/appliance/firstboot/netconfig"
)

// networkDoc is a network config, where it came from, and its rendered
// systemd-networkd files (none when the config is disabled).
type networkDoc struct {
	Source string
	Config netconfig.Config
	Files  []netconfig.File
}

// newNetworkDoc renders cfg, so a config that cannot be rendered is an
// error where it is read, before anything is applied.
func newNetworkDoc(source string, cfg netconfig.Config) (*networkDoc, error) {
	doc := &networkDoc{Source: source, Config: cfg}
	if !cfg.Disabled {
		files, err := netconfig.Render(cfg)
		if err != nil {
			return nil, err
		}
		doc.Files = files
	}
	return doc, nil
}

// parseNetwork parses and renders a network-config document at load time,
// so a bad one stops the boot before anything is applied.
func parseNetwork(source string, data []byte) (*networkDoc, []string, error) {
	cfg, warnings, err := netconfig.Parse(source, data)
	if err != nil {
		return nil, nil, err
	}
	doc, err := newNetworkDoc(source, cfg)
	if err != nil {
		return nil, nil, err
	}
	return doc, warnings, nil
}

// network writes the node's systemd-networkd files, every boot (/etc is
// reset at each boot). The config is the highest-priority source's
// network-config, else a static address from the node's inventory entry
// (with the site's gateway and DNS), else none: the image's DHCP on every
// NIC (overlays/common 80-dhcp.network) stays in charge. When files
// changed, networkd reloads them and reconfigures the links they match.
func network(ctx context.Context, env *Env) error {
	doc := env.network
	if doc == nil {
		var err error
		if doc, err = inventoryNetwork(env); err != nil {
			return err
		}
	}
	var files []netconfig.File
	if doc != nil {
		files = doc.Files
	}
	changed, err := netconfig.Apply(env.Root, files)
	if err != nil {
		return err
	}
	switch {
	case doc == nil:
		env.Printf("network: DHCP on every NIC (no network-config, no static address in the inventory)")
	case doc.Config.Disabled:
		env.Printf("network: %s disables network configuration; the image's DHCP stays", doc.Source)
	default:
		env.Printf("network: %d systemd-networkd files from %s", len(files), doc.Source)
	}
	if !changed {
		return nil
	}
	if _, err := env.Runner.Run(ctx, "networkctl", "reload"); err != nil {
		// networkd reads the files when it starts, so a reload that fails
		// because it is not running yet loses nothing.
		env.Printf("network: warning: networkctl reload: %v", err)
	}
	return nil
}

// inventoryNetwork is the static config of the node's inventory entry, if
// it has an address and a MAC to match, with the site's gateway and DNS
// when the node config has them (a site without K3s, or without
// cluster.network, has none: the address alone is configured).
func inventoryNetwork(env *Env) (*networkDoc, error) {
	n := env.inventoryEntry()
	if n == nil || n.Address == "" || n.MAC == "" {
		return nil, nil
	}
	var gateway string
	var dns []string
	if c := env.Config.Cluster; c != nil && c.Network != nil {
		gateway, dns = c.Network.Gateway, c.Network.DNS
	}
	return newNetworkDoc("inventory entry "+n.Hostname, netconfig.FromInventory(n.Address, gateway, dns, n.MAC))
}
