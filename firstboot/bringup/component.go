package bringup

import (
	"context"
	"fmt"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// diagnosticsTimeout bounds the requests made after the component's own
// deadline passed or its wait ended: a failure's detail, the endpoints.
const diagnosticsTimeout = 20 * time.Second

// watcher follows one component from its HelmChart to its endpoints.
type watcher struct {
	component   payload.PlatformComponent
	core        kubernetes.Interface
	dyn         dynamic.Interface
	nodeAddress string
	poll        time.Duration
	report      func(ComponentStatus)
}

// failure is why a component failed: Reason for the status line, Detail to
// back it.
type failure struct {
	Reason string
	Detail []string
}

// run watches the component until it is ready or failed, or ctx ends (then
// the last state reported stands).
func (w *watcher) run(ctx context.Context) {
	c := w.component
	timeout, err := componentTimeout(c.Timeout)
	if err != nil {
		w.set(StateFailed, err.Error(), nil)
		return
	}
	workloads, err := parseWorkloads(c.Namespace, c.Workloads)
	if err != nil {
		w.set(StateFailed, err.Error(), nil)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	f := w.waitForHelmChart(wctx, timeout)
	if f == nil {
		f = w.waitForInstallJob(ctx, wctx, timeout)
	}
	if f == nil {
		f = w.waitForWorkloads(wctx, timeout, workloads)
	}
	if ctx.Err() != nil {
		return
	}
	if f != nil {
		w.set(StateFailed, f.Reason, f.Detail)
		return
	}
	eps := w.endpoints(ctx)
	w.report(ComponentStatus{
		Name: c.Name, Origin: c.Origin, Namespace: c.Namespace, State: StateReady,
		Endpoints: eps, Credentials: c.Credentials,
	})
}

func (w *watcher) set(state, reason string, detail []string) {
	w.report(ComponentStatus{
		Name: w.component.Name, Origin: w.component.Origin, Namespace: w.component.Namespace,
		State: state, Reason: reason, Detail: detail,
		Credentials: w.component.Credentials,
	})
}

// componentTimeout parses a component's Timeout, DefaultComponentTimeout
// when empty.
func componentTimeout(s string) (time.Duration, error) {
	if s == "" {
		return DefaultComponentTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid timeout %q: %w", s, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid timeout %q: not positive", s)
	}
	return d, nil
}

// pollUntil calls check every poll until it reports done or a failure, or
// ctx ends (then it returns false and no failure).
func pollUntil(ctx context.Context, poll time.Duration, check func(context.Context) (bool, *failure)) (bool, *failure) {
	for {
		done, f := check(ctx)
		if done || f != nil {
			return done, f
		}
		if ctxsleep.Sleep(ctx, poll) != nil {
			return false, nil
		}
	}
}

// withLastError adds to msg the last error a wait met that was not "not
// found yet", if any.
func withLastError(msg string, last error) string {
	if last == nil {
		return msg
	}
	return fmt.Sprintf("%s (last error: %v)", msg, last)
}
