package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bringup"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"k8s.io/client-go/tools/clientcmd"
)

// PlatformStatusPath is where the platform bring-up keeps its status, on
// STATE; `firstboot status` prints it.
const PlatformStatusPath = StateDir + "/platform-status.json"

// PlatformOptions bound the platform bring-up; zero values take
// package bringup's defaults.
type PlatformOptions struct {
	// APITimeout bounds the wait for K3s's kubeconfig and then its API.
	APITimeout time.Duration
	Poll       time.Duration
}

// RunPlatform is `firstboot platform`, run by payload.PlatformUnitName on
// the initial server after K3s: it waits for K3s's admin kubeconfig, then
// follows every component of the baked platform to ready or failed
// (package bringup), writing the status to PlatformStatusPath after each
// change and one "firstboot: platform: ..." line per change. It fails when
// the API never answered or a component failed.
func RunPlatform(ctx context.Context, env *Env, opts PlatformOptions) error {
	data, err := os.ReadFile(env.Path(payload.PlatformManifest))
	if errors.Is(err, os.ErrNotExist) {
		env.Printf("platform: no platform in this image (%s), nothing to bring up", payload.PlatformManifest)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read platform manifest: %w", err)
	}
	var platform payload.Platform
	if err := json.Unmarshal(data, &platform); err != nil {
		return fmt.Errorf("parse %s: %w", payload.PlatformManifest, err)
	}
	if opts.APITimeout <= 0 {
		opts.APITimeout = bringup.DefaultAPITimeout
	}
	if opts.Poll <= 0 {
		opts.Poll = bringup.DefaultPoll
	}
	kubeconfig := env.Path(payload.K3sKubeconfigPath)
	// `firstboot status` lists the components from the start.
	waiting := bringup.Waiting(platform, env.Now().UTC())
	writeStatus(env, waiting)
	if err := waitForFile(ctx, env, kubeconfig, opts.APITimeout, opts.Poll); err != nil {
		waiting.Updated, waiting.API = env.Now().UTC(), "kubernetes API unreachable: "+err.Error()
		writeStatus(env, waiting)
		return err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("K3s kubeconfig %s: %w", payload.K3sKubeconfigPath, err)
	}
	status, err := bringup.Run(ctx, bringup.Options{
		Config: restConfig, Platform: platform, NodeAddress: nodeAddress(ctx, env),
		APITimeout: opts.APITimeout, Poll: opts.Poll,
		Logf:     func(format string, args ...any) { env.Printf(format, args...) },
		OnUpdate: func(s bringup.Status) { writeStatus(env, s) },
	})
	writeStatus(env, status)
	if err != nil {
		return err
	}
	ready, failed := 0, []string{}
	for _, c := range status.Components {
		if c.State == bringup.StateReady {
			ready++
		} else {
			failed = append(failed, c.Name)
		}
	}
	env.Printf("platform: %d of %d components ready; `firstboot status` shows where to reach them", ready, len(status.Components))
	if len(failed) > 0 {
		return fmt.Errorf("platform: not ready: %s", strings.Join(failed, ", "))
	}
	return nil
}

// writeStatus keeps the status file; a failure to write it is printed, not
// fatal: the console has the same lines.
func writeStatus(env *Env, s bringup.Status) {
	if err := bringup.WriteStatusFile(env.Path(PlatformStatusPath), s); err != nil {
		env.Printf("platform: warning: %v", err)
	}
}

// waitForFile waits until path exists, polling, for at most timeout.
func waitForFile(ctx context.Context, env *Env, path string, timeout, poll time.Duration) error {
	for waited := time.Duration(0); ; waited += poll {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if waited >= timeout {
			return fmt.Errorf("K3s wrote no kubeconfig at %s within %s", payload.K3sKubeconfigPath, timeout)
		}
		if err := env.sleep(ctx, poll); err != nil {
			return err
		}
	}
}

// nodeAddress is the address endpoints are reached at: the inventory
// entry's static address, else the node's first global IPv4 address.
func nodeAddress(ctx context.Context, env *Env) string {
	if cfg, err := readNodeConfig(env); err == nil {
		env.Config = cfg
		if rec, done, err := readRecord(env, "decide-role"); err == nil && done {
			env.entryName = rec.Values["inventory"]
		}
		if n := env.inventoryEntry(); n != nil {
			if pfx, err := netip.ParsePrefix(n.Address); err == nil {
				return pfx.Addr().String()
			}
		}
	}
	out, err := env.Runner.Run(ctx, "ip", "-4", "-o", "addr", "show", "scope", "global")
	if err != nil {
		return "<node address>"
	}
	_, addr := firstGlobalAddress(string(out))
	if pfx, err := netip.ParsePrefix(addr); err == nil {
		return pfx.Addr().String()
	}
	return "<node address>"
}
