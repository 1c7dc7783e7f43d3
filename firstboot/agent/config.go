package agent

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ml-appliance/appliance/firstboot/nocloud"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// loadConfig reads the baked node config and merges a NoCloud seed into it
// when one is attached. It runs every boot: nothing it finds is stored.
func loadConfig(_ context.Context, env *Env) error {
	path := env.Path(nodeconfig.Path)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read node config: %w", err)
	}
	cfg, err := nodeconfig.Unmarshal(data)
	if err != nil {
		return fmt.Errorf("node config %s: %w", nodeconfig.Path, err)
	}
	env.Config = cfg
	env.Printf("load-config: node config %s: site %s, default role %s, %d inventory entries",
		nodeconfig.Path, cfg.Site, orNone(cfg.DefaultRole), len(cfg.Nodes))

	seed, err := nocloud.Load(nocloud.Options{Root: env.Root, Mounter: env.Mounter})
	switch {
	case errors.Is(err, nocloud.ErrNoSeed):
		env.Seed = nil
		env.Printf("load-config: no NoCloud seed (%v)", nocloud.ErrNoSeed)
	case err != nil:
		return fmt.Errorf("NoCloud seed: %w", err)
	default:
		env.Seed = &seed
		env.Printf("load-config: NoCloud seed on %s (%s, label %s), instance-id %s",
			seed.Device.Path, seed.Device.FSType, seed.Device.Label, orNone(seed.Meta.InstanceID))
		for _, w := range seed.Warnings {
			env.Printf("load-config: warning: %s", w)
		}
	}

	keys := append([]string(nil), cfg.SSHAuthorizedKeys...)
	if env.Seed != nil {
		keys = append(keys, env.Seed.User.SSHAuthorizedKeys...)
	}
	env.AuthorizedKeys = dedupe(keys)
	return nil
}

func dedupe(items []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
