package agent

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
	"github.com/ml-appliance/appliance/firstboot/datasource"
	"github.com/ml-appliance/appliance/firstboot/nocloud"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// loadConfig reads the baked node config, then the cloud-config sources
// (package datasource: seed volume, ds=nocloud, firstboot.config, merged
// in that order), and parses all of them before any step changes the host.
// It runs every boot: nothing it finds is stored.
//
// A broken image (no readable node config) is an error. A bad cloud-config
// is not: it is printed with its source and line, kept as Env.configErr,
// and the agent then runs only the steps that keep the node reachable (see
// Step.Safe) with the baked config alone, and fails at the end.
func loadConfig(ctx context.Context, env *Env) error {
	cfg, err := readNodeConfig(env)
	if err != nil {
		return err
	}
	env.Config = cfg
	env.AuthorizedKeys = dedupe(cfg.SSHAuthorizedKeys)
	env.Printf("load-config: node config %s: site %s, default role %s, %d inventory entries",
		nodeconfig.Path, cfg.Site, orNone(cfg.DefaultRole), len(cfg.Nodes))
	if err := loadCloudConfig(ctx, env); err != nil {
		env.configErr = err
		env.Printf("error: %v", err)
		return nil
	}
	env.AuthorizedKeys = dedupe(append(env.AuthorizedKeys, env.Cloud.SSHAuthorizedKeys...))
	return nil
}

func readNodeConfig(env *Env) (nodeconfig.Config, error) {
	data, err := os.ReadFile(env.Path(nodeconfig.Path))
	if err != nil {
		return nodeconfig.Config{}, fmt.Errorf("read node config: %w", err)
	}
	cfg, err := nodeconfig.Unmarshal(data)
	if err != nil {
		return nodeconfig.Config{}, fmt.Errorf("node config %s: %w", nodeconfig.Path, err)
	}
	return cfg, nil
}

// loadCloudConfig gathers and parses every source into env.Cloud, env.Meta
// and env.network; on error it leaves them unset.
func loadCloudConfig(ctx context.Context, env *Env) error {
	sources, err := datasource.Gather(ctx, datasource.Options{
		Root: env.Root, Mounter: env.Mounter, Sleep: env.Sleep,
		Logf: func(format string, args ...any) { env.Printf("load-config: "+format, args...) },
	})
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		env.Printf("load-config: no cloud-config (no NoCloud seed, no ds=nocloud or %s on the kernel command line)", "firstboot.config")
	}
	var (
		merged  cloudconfig.Config
		meta    nocloud.MetaData
		network *networkDoc
	)
	for _, src := range sources {
		m, err := parseSource(env, src)
		if err != nil {
			return err
		}
		merged = cloudconfig.Merge(merged, m.user)
		if m.meta.InstanceID != "" {
			meta.InstanceID = m.meta.InstanceID
		}
		if m.meta.LocalHostname != "" {
			meta.LocalHostname = m.meta.LocalHostname
		}
		if m.network != nil {
			network = m.network
		}
	}
	if err := merged.Appliance.Validate(); err != nil {
		return fmt.Errorf("cloud-config (merged from %d sources): %w", len(sources), err)
	}
	env.Cloud, env.Meta, env.network = merged, meta, network
	return nil
}

type parsedSource struct {
	meta    nocloud.MetaData
	user    cloudconfig.Config
	network *networkDoc
}

// parseSource parses one source's documents, printing what it found and
// its warnings.
func parseSource(env *Env, src datasource.Source) (parsedSource, error) {
	var p parsedSource
	var warnings []string
	if src.MetaData != nil {
		meta, ws, err := nocloud.ParseMetaData(src.MetaData)
		if err != nil {
			return p, fmt.Errorf("%s: %w", src.Name, err)
		}
		p.meta = meta
		for _, w := range ws {
			warnings = append(warnings, src.Name+": "+w)
		}
	}
	if src.UserData != nil {
		user, ws, err := cloudconfig.Parse(src.Name+" user-data", src.UserData)
		if err != nil {
			return p, err
		}
		p.user = user
		warnings = append(warnings, ws...)
	}
	if src.NetworkConfig != nil {
		doc, ws, err := parseNetwork(src.Name+" network-config", src.NetworkConfig)
		if err != nil {
			return p, err
		}
		p.network = doc
		warnings = append(warnings, ws...)
	}
	env.Printf("load-config: %s, instance-id %s", src.Name, orNone(p.meta.InstanceID))
	for _, w := range append(append([]string(nil), src.Warnings...), warnings...) {
		env.Printf("load-config: warning: %s", w)
	}
	return p, nil
}

// errConfig ends a boot whose cloud-config had an error.
var errConfig = errors.New("cloud-config error (printed above): only the steps that keep the node reachable ran; fix the config and reboot, or run `firstboot run` again")

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
