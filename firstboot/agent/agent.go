// Package agent is the firstboot node agent: an explicit list of named steps
// (Steps) that turn a booted appliance into a cluster node, run by a systemd
// oneshot service on every boot before K3s.
//
// The steps read the baked node config and the cloud-config sources
// (package datasource), decide the role, apply the cloud-config (users,
// files, network, time, commands), make the K3s image archives, charts and
// config visible where K3s expects them, and queue K3s and, on the initial
// server, the platform bring-up (RunPlatform, package bringup). A
// cloud-config with an error stops every step but those marked Safe, which
// keep the node reachable.
//
// A step is a func(ctx, *Env) error. Steps marked Once record their
// completion atomically under StateDir (on STATE, so it survives a reboot)
// and are skipped on later boots; steps marked EveryBoot re-apply what lives
// on the read-only image's RAM overlay (/etc, /home, /root) or follows the
// image, which an upgrade replaces. Every step is idempotent, so a power
// cut or a kill at any point resumes cleanly: the interrupted step runs
// again from the start.
//
// Every path the agent touches is taken under Env.Root, so tests run the
// steps against a temp dir; host tools run through Env.Runner. The agent
// reports its decisions as lines starting "firstboot: " on Env.Out; that
// output is its console log, read by people and by boot tests.
package agent

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
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
	// Safe steps also run when the cloud-config has an error: they keep
	// the node reachable (STATE, SSH host keys, the baked authorized keys)
	// and apply nothing of the bad config.
	Safe bool
	Run  func(ctx context.Context, env *Env) error
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
	// Sleep waits between polls; nil uses a real timer (see Env.sleep).
	Sleep func(ctx context.Context, d time.Duration) error

	// Filled in by steps.
	Config nodeconfig.Config
	// Cloud is the merged cloud-config, Meta the merged meta-data.
	Cloud cloudconfig.Config
	Meta  nocloud.MetaData
	Role  string
	// ClusterInit is set on the server that initialises the cluster.
	ClusterInit    bool
	Hostname       string
	AuthorizedKeys []string

	notes map[string]string
	// entryName is the hostname of the node's inventory entry, if any.
	entryName string
	// network is the parsed network-config of the highest-priority source
	// that had one.
	network *networkDoc
	// configErr is the cloud-config's error, if it had one.
	configErr error
	// imagePayload is what the image-payload step found; nil when the
	// image names no payload.
	imagePayload *imagePayloadState
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
		if env.configErr != nil && !step.Safe {
			continue
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
	if env.configErr != nil {
		return errConfig
	}
	env.Printf("done role=%s hostname=%s", env.Role, env.Hostname)
	return nil
}

// Steps is the sequence, in order.
func Steps() []Step {
	return []Step{
		{Name: "load-config", Phase: EveryBoot, Safe: true, Run: loadConfig},
		{Name: "decide-role", Phase: Once, Run: decideRole, Restore: restoreRole},
		{Name: "grow-state", Phase: Once, Safe: true, Run: growState},
		{Name: "ssh-host-keys", Phase: Once, Safe: true, Run: sshHostKeys},
		{Name: "cluster-secrets", Phase: EveryBoot, Run: clusterSecrets},
		{Name: "hostname", Phase: EveryBoot, Run: setHostname},
		{Name: "bootcmd", Phase: EveryBoot, Run: bootcmd},
		{Name: "network", Phase: EveryBoot, Run: network},
		{Name: "resolv-conf", Phase: EveryBoot, Run: resolvConf},
		{Name: "time", Phase: EveryBoot, Run: timeSettings},
		{Name: "users", Phase: EveryBoot, Run: users},
		{Name: "authorized-keys", Phase: EveryBoot, Safe: true, Run: authorizedKeys},
		{Name: "write-files", Phase: EveryBoot, Run: writeFiles},
		{Name: "k3s-images", Phase: EveryBoot, Run: k3sImages},
		{Name: "image-payload", Phase: EveryBoot, Run: imagePayload},
		{Name: "k3s-platform", Phase: EveryBoot, Run: k3sPlatform},
		{Name: "k3s-identity", Phase: Once, Run: k3sIdentity},
		{Name: "k3s-config", Phase: EveryBoot, Run: k3sConfig},
		{Name: "default-route", Phase: EveryBoot, Run: defaultRoute},
		{Name: "host-check", Phase: EveryBoot, Run: hostCheck},
		{Name: "clock", Phase: EveryBoot, Run: clockStep},
		{Name: "k3s-start", Phase: EveryBoot, Run: k3sStart},
		{Name: "pxe-server", Phase: EveryBoot, Run: pxeServer},
		{Name: "runcmd", Phase: Once, Run: runcmd},
		{Name: "first-boot", Phase: Once, Run: firstBootMarker, Restore: reportFirstBoot},
	}
}
