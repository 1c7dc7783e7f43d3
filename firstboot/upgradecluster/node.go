package upgradecluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
)

// upgradeNode takes one node through its steps (cordon, drain, request,
// wait, uncordon), from the step the progress says it reached.
func (r *run) upgradeNode(ctx context.Context, v nodeView) error {
	say := func(format string, args ...any) {
		r.logf("upgrade: node %s: "+format, append([]any{v.Name}, args...)...)
	}
	if c := r.prog.Current; c == nil || c.Node != v.Name || c.Step != StepRequested {
		if !v.Ready {
			return fmt.Errorf("cluster upgrade: node %s is not Ready (%s): not upgraded, nor were the nodes after it", v.Name, describe(v))
		}
		if c := r.prog.Current; c == nil || c.Node != v.Name {
			r.prog.Current = &NodeStep{Node: v.Name, WasCordoned: v.Unschedulable}
		}
		if err := r.setStep(StepCordoned, ""); err != nil {
			return err
		}
		if err := setSchedulable(ctx, r.client, v.Name, false); err != nil {
			return fmt.Errorf("cluster upgrade: %w", err)
		}
		say("cordoned")
		d := drainer{client: r.client, node: v.Name, retry: r.plan.Poll, say: say}
		res, err := d.drain(ctx, r.plan.DrainTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("cluster upgrade: node %s: %w", v.Name, ctx.Err())
			}
			return r.stop(ctx, v.Name, say, err.Error())
		}
		say("drained %d pods (%d DaemonSet and mirror pods stay)", res.Evicted, res.Kept)
		if err := r.setStep(StepDrained, ""); err != nil {
			return err
		}
		if err := r.request(ctx, v.Name, say); err != nil {
			return err
		}
	}
	return r.waitUpgraded(ctx, v.Name, say)
}

// request asks the node for the release: a disk node to apply the bundle,
// a netbooted node to reboot. The progress records the node's boot first,
// so that a reboot after the request is told from one before.
func (r *run) request(ctx context.Context, node string, say func(string, ...any)) error {
	v, err := r.get(ctx, node)
	if err != nil {
		return err
	}
	if err := r.setStep(StepRequested, v.BootID); err != nil {
		return err
	}
	if v.Medium == MediumNetboot {
		if err := annotate(ctx, r.client, node, map[string]*string{AnnotationRebootRequest: strp(r.plan.Release)}); err != nil {
			return fmt.Errorf("cluster upgrade: %w", err)
		}
		say("asked to reboot into %s (netbooted)", r.plan.Release)
		return nil
	}
	if err := annotate(ctx, r.client, node, map[string]*string{
		AnnotationWantedRelease: strp(r.plan.Release),
		AnnotationBundleURL:     strp(r.plan.BundleURL),
	}); err != nil {
		return fmt.Errorf("cluster upgrade: %w", err)
	}
	say("asked to apply %s from %s", r.plan.Release, r.plan.BundleURL)
	return nil
}

// waitUpgraded polls the node until it is upgraded (then uncordons it),
// stopped (then stops the run), or the node timeout passes.
func (r *run) waitUpgraded(ctx context.Context, node string, say func(string, ...any)) error {
	askedBoot := r.prog.Current.BootID
	deadline := time.Now().Add(r.plan.NodeTimeout)
	last, lastErr := "", error(nil)
	for {
		v, err := r.get(ctx, node)
		lastErr = err
		if err == nil {
			if d := describe(v); d != last {
				say("%s", d)
				last = d
			}
			if upgraded(v, r.plan.Release) {
				break
			}
			if reason, ok := stopped(v, r.plan.Release, askedBoot); ok {
				return r.stop(ctx, node, say, reason)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster upgrade: node %s not on %s within %s (%s; last error: %v); it stays cordoned: run `firstboot upgrade cluster` again to wait on",
				node, r.plan.Release, r.plan.NodeTimeout, last, lastErr)
		}
		if err := ctxsleep.Sleep(ctx, r.plan.Poll); err != nil {
			return fmt.Errorf("cluster upgrade: node %s: %w", node, err)
		}
	}
	if err := r.uncordon(ctx, node, say); err != nil {
		return fmt.Errorf("cluster upgrade: %w", err)
	}
	return r.markDone(node)
}

// uncordon makes the current node schedulable again, unless it was
// cordoned before the upgrade.
func (r *run) uncordon(ctx context.Context, node string, say func(string, ...any)) error {
	if r.prog.Current.WasCordoned {
		say("left cordoned, as it was before the upgrade")
		return nil
	}
	if err := setSchedulable(ctx, r.client, node, true); err != nil {
		return err
	}
	say("uncordoned")
	return nil
}

// stop ends the run at node: it uncordons the node (it still runs its
// release and serves) and records why.
func (r *run) stop(ctx context.Context, node string, say func(string, ...any), reason string) error {
	uerr := r.uncordon(ctx, node, say)
	r.prog.Current = nil
	r.prog.Stopped = fmt.Sprintf("node %s: %s", node, reason)
	return errors.Join(
		fmt.Errorf("cluster upgrade stopped at node %s: %s; the nodes after it were not touched", node, reason),
		uerr, r.save())
}

// setStep records the current node's step.
func (r *run) setStep(step Step, bootID string) error {
	r.prog.Current.Step, r.prog.Current.BootID = step, bootID
	return r.save()
}
