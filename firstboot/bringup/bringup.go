// Package bringup watches the baked ML platform come up on a K3s server and
// says, per component, whether it is ready, where to reach it, or why it
// failed. It talks to the API server through client-go only.
//
// K3s applies the HelmChart manifests firstboot placed (see
// payload.PlatformManifestsDir); its helm-controller runs each as a Job
// named helm-install-<HelmChart> in kube-system. For every component of
// payload.Platform, Run waits, within the component's own timeout, for:
//
//  1. the HelmChart kube-system/<HelmChart> to exist;
//  2. its install Job to complete (a failed Job, or a HelmChart whose
//     Failed condition is True, fails the component at once, with the Job's
//     conditions, its pods' events and the last log lines as detail);
//  3. every workload to be rolled out, by the rules of `kubectl rollout
//     status`;
//
// then reads the endpoints' Services to say where the component is
// reached. Every wait is bounded: a component not ready by its deadline is
// failed, naming what it waited for.
//
// Run reports through Options.Logf (one line per state change) and
// Options.OnUpdate (the whole Status after each change; the caller writes it
// with WriteStatusFile).
package bringup

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Defaults of Options.
const (
	DefaultAPITimeout       = 10 * time.Minute
	DefaultPoll             = 5 * time.Second
	DefaultComponentTimeout = 10 * time.Minute
)

// Options configures Run.
type Options struct {
	// Config reaches the API server.
	Config   *rest.Config
	Platform payload.Platform
	// NodeAddress is the host of NodePort endpoint URLs.
	NodeAddress string
	// APITimeout bounds the wait for the API server (DefaultAPITimeout).
	APITimeout time.Duration
	// Poll is the interval between checks (DefaultPoll).
	Poll time.Duration
	// Logf, if set, gets one "platform: ..." line per state change.
	Logf func(format string, args ...any)
	// OnUpdate, if set, gets the whole Status after each change.
	OnUpdate func(Status)
}

// Run waits for the API server, then for every component, and returns the
// final Status. Its error says only that the API server never answered or
// that ctx ended; a component's failure is in its ComponentStatus.
func Run(ctx context.Context, opts Options) (Status, error) {
	if opts.Config == nil {
		return Status{}, fmt.Errorf("platform bring-up: no API server config")
	}
	if opts.APITimeout <= 0 {
		opts.APITimeout = DefaultAPITimeout
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	cfg := rest.CopyConfig(opts.Config)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		// No client-side limit: the polls are few and bounded, while
		// client-go's default (5/s) would throttle many components polled
		// at once, log about it, and fail requests near a deadline.
		cfg.QPS = -1
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Status{}, fmt.Errorf("platform bring-up: client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Status{}, fmt.Errorf("platform bring-up: client: %w", err)
	}

	r := newReporter(opts)
	r.start(opts.APITimeout)
	if err := waitForAPI(ctx, core, opts.APITimeout, opts.Poll); err != nil {
		r.setAPI(err.Error())
		return r.snapshot(), err
	}
	r.setAPI(APIReady)

	var wg sync.WaitGroup
	for i, c := range opts.Platform.Components {
		w := &watcher{
			component: c, core: core, dyn: dyn,
			nodeAddress: opts.NodeAddress, poll: opts.Poll,
			report: func(cs ComponentStatus) { r.setComponent(i, cs) },
		}
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return r.snapshot(), fmt.Errorf("platform bring-up: %w", err)
	}
	return r.snapshot(), nil
}

// reporter holds the Status the component watchers update concurrently.
type reporter struct {
	mu       sync.Mutex
	status   Status
	logf     func(string, ...any)
	onUpdate func(Status)
}

func newReporter(opts Options) *reporter {
	r := &reporter{logf: opts.Logf, onUpdate: opts.OnUpdate}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	r.status = Waiting(opts.Platform, time.Now())
	return r
}

// Waiting is the status before the API server answered: every component
// of p waiting for it.
func Waiting(p payload.Platform, now time.Time) Status {
	s := Status{API: APIWaiting, Updated: now}
	for _, c := range p.Components {
		s.Components = append(s.Components, ComponentStatus{
			Name: c.Name, Origin: c.Origin, Namespace: c.Namespace, State: StateWaiting,
			Reason: "waiting for the API server", Since: now,
		})
	}
	return s
}

// start reports the initial Status: everything waiting for the API.
func (r *reporter) start(apiTimeout time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logf("platform: waiting for the kubernetes API (up to %s)", apiTimeout)
	r.changed()
}

func (r *reporter) setAPI(state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.API == state {
		return
	}
	r.status.API = state
	if state == APIReady {
		r.logf("platform: kubernetes API ready")
	} else {
		r.logf("platform: %s", state)
	}
	r.changed()
}

// setComponent records cs as component i's state; a change of State is
// logged, any change reported.
func (r *reporter) setComponent(i int, cs ComponentStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.status.Components[i]
	if old.State == cs.State && old.Reason == cs.Reason && slices.Equal(old.Detail, cs.Detail) && slices.Equal(old.Endpoints, cs.Endpoints) {
		return
	}
	cs.Since = old.Since
	if old.State != cs.State {
		cs.Since = time.Now()
		r.logf("platform: %s", componentLine(cs))
	}
	r.status.Components[i] = cs
	r.changed()
}

func (r *reporter) changed() {
	r.status.Updated = time.Now()
	if r.onUpdate != nil {
		r.onUpdate(r.copyLocked())
	}
}

func (r *reporter) snapshot() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copyLocked()
}

func (r *reporter) copyLocked() Status {
	s := r.status
	s.Components = append([]ComponentStatus(nil), s.Components...)
	return s
}
