package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// setHostname writes /etc/hostname (the image's, on the RAM overlay, so every
// boot) and sets the kernel's hostname when Env.SetHostname is set.
func setHostname(_ context.Context, env *Env) error {
	if env.Hostname == "" {
		return errors.New("no hostname decided")
	}
	if err := writeFileAtomic(env.Path("/etc/hostname"), []byte(env.Hostname+"\n"), 0o644); err != nil {
		return err
	}
	if env.SetHostname != nil {
		if err := env.SetHostname(env.Hostname); err != nil {
			return fmt.Errorf("set kernel hostname %s: %w", env.Hostname, err)
		}
	}
	env.Printf("hostname: %s", env.Hostname)
	return nil
}

// authorizedKeys installs root's authorized_keys (on the RAM overlay, so
// every boot) from the node config and the seed.
func authorizedKeys(_ context.Context, env *Env) error {
	if len(env.AuthorizedKeys) == 0 {
		env.Printf("authorized-keys: none configured, /root/.ssh left as the image has it")
		return nil
	}
	dir := env.Path("/root/.ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	content := strings.Join(env.AuthorizedKeys, "\n") + "\n"
	if err := writeFileAtomic(filepath.Join(dir, "authorized_keys"), []byte(content), 0o600); err != nil {
		return err
	}
	env.Printf("authorized-keys: %d keys for root", len(env.AuthorizedKeys))
	return nil
}

// FirstBootMarker is written once, on the first boot that gets this far.
const FirstBootMarker = StateDir + "/first-boot"

// firstBootMarker writes the first-boot marker: the time and the boot id. A
// marker already there (a power cut before the step was recorded) is kept.
func firstBootMarker(_ context.Context, env *Env) error {
	path := env.Path(FirstBootMarker)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	bootID, err := os.ReadFile(env.Path("/proc/sys/kernel/random/boot_id"))
	if err != nil {
		return fmt.Errorf("read boot id: %w", err)
	}
	now := env.Now().UTC().Format(time.RFC3339)
	content := fmt.Sprintf("time=%s\nboot_id=%s\n", now, strings.TrimSpace(string(bootID)))
	if err := writeFileAtomic(path, []byte(content), 0o644); err != nil {
		return err
	}
	env.Printf("first-boot: this is the first boot (%s)", now)
	return nil
}

// reportFirstBoot prints when the first boot was, on later boots. A marker
// gone missing is reported, not fatal: it records, it does not configure.
func reportFirstBoot(_ context.Context, env *Env, _ Record) error {
	data, err := os.ReadFile(env.Path(FirstBootMarker))
	if err != nil {
		env.Printf("first-boot: warning: marker unreadable: %v", err)
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if when, ok := strings.CutPrefix(line, "time="); ok {
			env.Printf("first boot was %s", when)
			return nil
		}
	}
	env.Printf("first-boot: warning: marker %s has no time= line", FirstBootMarker)
	return nil
}
