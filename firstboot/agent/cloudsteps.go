package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
)

// The cloud-config steps apply what package cloudconfig parsed. Those that
// touch /etc (users, write_files, timezone, ntp) run every boot, since /etc
// is the image's with a RAM overlay; each is idempotent, so a re-run leaves
// the same files. bootcmd runs every boot, as in cloud-init; runcmd once.

// users creates or updates the cloud-config users (not root: root's keys
// are the authorized-keys step's).
func users(_ context.Context, env *Env) error {
	if len(env.Cloud.Users) == 0 {
		return nil
	}
	if err := cloudconfig.ApplyUsers(env.Root, env.Cloud.Users); err != nil {
		return err
	}
	names := make([]string, 0, len(env.Cloud.Users))
	for _, u := range env.Cloud.Users {
		names = append(names, u.Name)
	}
	env.Printf("users: %s", strings.Join(names, ", "))
	return nil
}

// writeFiles writes the cloud-config write_files.
func writeFiles(_ context.Context, env *Env) error {
	if len(env.Cloud.WriteFiles) == 0 {
		return nil
	}
	if err := cloudconfig.ApplyWriteFiles(env.Root, env.Cloud.WriteFiles); err != nil {
		return err
	}
	env.Printf("write-files: %d files", len(env.Cloud.WriteFiles))
	return nil
}

// timeSettings applies timezone and ntp; a changed NTP drop-in restarts
// systemd-timesyncd if it runs.
func timeSettings(ctx context.Context, env *Env) error {
	if tz := env.Cloud.Timezone; tz != "" {
		if err := cloudconfig.ApplyTimezone(env.Root, tz); err != nil {
			return err
		}
		env.Printf("time: timezone %s", tz)
	}
	if env.Cloud.NTP == nil {
		return nil
	}
	changed, err := cloudconfig.ApplyNTP(env.Root, env.Cloud.NTP)
	if err != nil {
		return err
	}
	env.Printf("time: NTP servers %s", orNone(strings.Join(append(append([]string(nil), env.Cloud.NTP.Servers...), env.Cloud.NTP.Pools...), " ")))
	if changed {
		if _, err := env.Runner.Run(ctx, "systemctl", "try-restart", "systemd-timesyncd.service"); err != nil {
			env.Printf("time: warning: %v", err)
		}
	}
	return nil
}

// bootcmd runs the cloud-config bootcmd, every boot.
func bootcmd(ctx context.Context, env *Env) error {
	runCommands(ctx, env, "bootcmd", env.Cloud.BootCmd)
	return nil
}

// runcmd runs the cloud-config runcmd once, on the first boot that gets
// this far, as cloud-init's per-instance runcmd does.
func runcmd(ctx context.Context, env *Env) error {
	runCommands(ctx, env, "runcmd", env.Cloud.RunCmd)
	return nil
}

// runCommands runs each command in turn. As in cloud-init, a failing
// command is reported and the boot goes on: the commands are the
// operator's, and a node that stops configuring itself over one of them is
// harder to reach and fix.
func runCommands(ctx context.Context, env *Env, key string, cmds []cloudconfig.Command) {
	for i, c := range cmds {
		name, args := c.Exec()
		out, err := env.Runner.Run(ctx, name, args...)
		if err != nil {
			env.Printf("%s: warning: %s[%d] %s failed: %v", key, key, i, c, err)
			continue
		}
		env.Printf("%s: %s[%d] %s: ok%s", key, key, i, c, outputTail(out))
	}
}

// outputTail is the last line of a command's output, for the console.
func outputTail(out []byte) string {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	return fmt.Sprintf(" (%s)", lines[len(lines)-1])
}
