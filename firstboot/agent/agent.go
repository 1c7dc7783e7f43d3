// Package agent is the firstboot node agent: an explicit list of named steps
// that configure a node from the image's baked node config and an optional
// NoCloud seed, run by a systemd oneshot service on every boot before K3s.
//
// A step is a func(ctx, *Env) error. Steps marked Once record their
// completion atomically under StateDir (on STATE, so it survives a reboot)
// and are skipped on later boots; steps marked EveryBoot re-apply what lives
// on the read-only image's RAM overlay (/etc/hostname, /root/.ssh) or
// follows the image, which an upgrade replaces (the links to its K3s image
// archives; on servers, the platform's charts and HelmChart manifests; the
// embedded-mirror registries.yaml). Every step is idempotent, so a power
// cut at any point resumes cleanly: the interrupted step runs again from
// the start.
//
// Every path the agent touches is taken under Env.Root, so tests run the
// steps against a temp dir. The agent reports its decisions as lines starting
// "firstboot: " on Env.Out; that output is its console log, read by people
// and by boot tests.
package agent

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nocloud"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"golang.org/x/sys/unix"
)

// StateDir holds the agent's records; it is under /var, which lives on STATE.
const StateDir = "/var/lib/appliance/firstboot"

// Phase says when a step runs.
type Phase int

const (
	// Once steps run until they succeed once, then are skipped.
	Once Phase = iota
	// EveryBoot steps run on every boot.
	EveryBoot
)

// Step is one named step of the sequence.
type Step struct {
	Name  string
	Phase Phase
	Run   func(ctx context.Context, env *Env) error
	// Restore, for a Once step being skipped, rebuilds from the step's
	// record what later steps need. Optional.
	Restore func(ctx context.Context, env *Env, rec Record) error
}

// Env is what steps share: the host and its tools, and what earlier steps
// found out.
type Env struct {
	// Root is the host root; every path is taken under it.
	Root string
	// Out receives the "firstboot: " lines.
	Out io.Writer
	// Now is the clock for records.
	Now func() time.Time
	// Runner runs host tools (resize2fs, ssh-keygen).
	Runner Runner
	// Mounter mounts the NoCloud seed.
	Mounter nocloud.Mounter
	// SetHostname sets the kernel's hostname; nil leaves it alone (tests).
	SetHostname func(name string) error

	// Filled in by steps.
	Config         nodeconfig.Config
	Seed           *nocloud.Seed
	Role           string
	Hostname       string
	AuthorizedKeys []string

	notes map[string]string
}

// NewEnv returns an Env for the host at root using the real tools. The
// kernel hostname is set only when root is "/".
func NewEnv(root string, out io.Writer) *Env {
	env := &Env{Root: root, Out: out, Now: time.Now, Runner: ExecRunner{}, Mounter: nocloud.SysMounter{}}
	if root == "/" {
		env.SetHostname = func(name string) error { return unix.Sethostname([]byte(name)) }
	}
	return env
}

// Path returns p (an absolute path of the host) under Root.
func (e *Env) Path(p string) string {
	return filepath.Join(e.Root, p)
}

// Printf writes one "firstboot: " line.
func (e *Env) Printf(format string, args ...any) {
	fmt.Fprintf(e.Out, "firstboot: "+format+"\n", args...)
}

// Note keeps a value in the record of the running Once step.
func (e *Env) Note(key, value string) {
	if e.notes == nil {
		e.notes = map[string]string{}
	}
	e.notes[key] = value
}

// RunSteps runs steps in order, skipping Once steps already recorded, and
// stops at the first error.
func RunSteps(ctx context.Context, env *Env, steps []Step) error {
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("step %s: %w", step.Name, err)
		}
		if err := runStep(ctx, env, step); err != nil {
			return fmt.Errorf("step %s: %w", step.Name, err)
		}
	}
	return nil
}

func runStep(ctx context.Context, env *Env, step Step) error {
	if step.Phase == Once {
		rec, done, err := readRecord(env, step.Name)
		if err != nil {
			return err
		}
		if done {
			env.Printf("%s: already done (%s)", step.Name, rec.Completed.Format(time.RFC3339))
			if step.Restore != nil {
				return step.Restore(ctx, env, rec)
			}
			return nil
		}
	}
	env.notes = nil
	if err := step.Run(ctx, env); err != nil {
		return err
	}
	if step.Phase == Once {
		return writeRecord(env, Record{Step: step.Name, Completed: env.Now().UTC(), Values: env.notes})
	}
	return nil
}

// Run runs the whole sequence and prints the final line
// "firstboot: done role=<role> hostname=<name>".
func Run(ctx context.Context, env *Env) error {
	if err := RunSteps(ctx, env, Steps()); err != nil {
		return err
	}
	env.Printf("done role=%s hostname=%s", env.Role, env.Hostname)
	return nil
}

// Steps is the sequence, in order.
func Steps() []Step {
	return []Step{
		{Name: "load-config", Phase: EveryBoot, Run: loadConfig},
		{Name: "decide-role", Phase: Once, Run: decideRole, Restore: restoreRole},
		{Name: "grow-state", Phase: Once, Run: growState},
		{Name: "ssh-host-keys", Phase: Once, Run: sshHostKeys},
		{Name: "hostname", Phase: EveryBoot, Run: setHostname},
		{Name: "authorized-keys", Phase: EveryBoot, Run: authorizedKeys},
		{Name: "k3s-images", Phase: EveryBoot, Run: k3sImages},
		{Name: "k3s-platform", Phase: EveryBoot, Run: k3sPlatform},
		{Name: "first-boot", Phase: Once, Run: firstBootMarker, Restore: reportFirstBoot},
	}
}
