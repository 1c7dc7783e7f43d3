package agent

import (
	"context"

	"github.com/ml-appliance/appliance/firstboot/netconfig"
)

// networkDoc is a parsed network config and where it came from.
type networkDoc struct {
	Source string
	Config netconfig.Config
}

// parseNetwork parses a network-config document at load time, so a bad one
// stops the boot before anything is applied.
func parseNetwork(source string, data []byte) (*networkDoc, []string, error) {
	cfg, warnings, err := netconfig.Parse(source, data)
	if err != nil {
		return nil, nil, err
	}
	if _, err := netconfig.Render(cfg); err != nil {
		return nil, nil, err
	}
	return &networkDoc{Source: source, Config: cfg}, warnings, nil
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
		doc = inventoryNetwork(env)
	}
	var files []netconfig.File
	if doc != nil && !doc.Config.Disabled {
		var err error
		if files, err = netconfig.Render(doc.Config); err != nil {
			return err
		}
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
// it has an address and a MAC to match.
func inventoryNetwork(env *Env) *networkDoc {
	n := env.inventoryEntry()
	if n == nil || n.Address == "" || n.MAC == "" {
		return nil
	}
	cfg := netconfig.FromInventory(n.Address, env.Config.Cluster.Network.Gateway, env.Config.Cluster.Network.DNS, n.MAC)
	return &networkDoc{Source: "inventory entry " + n.Hostname, Config: cfg}
}
