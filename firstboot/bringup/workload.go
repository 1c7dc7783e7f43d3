package bringup

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// workload is one of a component's workloads: "Deployment/name",
// "StatefulSet/name" or "DaemonSet/name" in the component's namespace.
type workload struct {
	Kind, Namespace, Name string
}

func (wl workload) String() string { return wl.Kind + " " + wl.Namespace + "/" + wl.Name }

func parseWorkloads(namespace string, specs []string) ([]workload, error) {
	var out []workload
	for _, s := range specs {
		kind, name, ok := strings.Cut(s, "/")
		if !ok || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("workload %q: want Kind/name", s)
		}
		switch kind {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			return nil, fmt.Errorf("workload %q: kind %s is not Deployment, StatefulSet or DaemonSet", s, kind)
		}
		out = append(out, workload{Kind: kind, Namespace: namespace, Name: name})
	}
	return out, nil
}

// rollout is a workload's rollout state: whether it is done, and its counts.
type rollout struct {
	Ready bool
	State string
}

// workloadRollout reads a workload and judges its rollout.
func workloadRollout(ctx context.Context, core kubernetes.Interface, wl workload) (rollout, error) {
	apps := core.AppsV1()
	var r rollout
	var err error
	switch wl.Kind {
	case "Deployment":
		var d *appsv1.Deployment
		if d, err = apps.Deployments(wl.Namespace).Get(ctx, wl.Name, metav1.GetOptions{}); err == nil {
			r = deploymentRollout(d)
		}
	case "StatefulSet":
		var s *appsv1.StatefulSet
		if s, err = apps.StatefulSets(wl.Namespace).Get(ctx, wl.Name, metav1.GetOptions{}); err == nil {
			r = statefulSetRollout(s)
		}
	case "DaemonSet":
		var d *appsv1.DaemonSet
		if d, err = apps.DaemonSets(wl.Namespace).Get(ctx, wl.Name, metav1.GetOptions{}); err == nil {
			r = daemonSetRollout(d)
		}
	default:
		return r, fmt.Errorf("%s: unsupported kind", wl)
	}
	if apierrors.IsNotFound(err) {
		return rollout{State: "not found"}, nil
	}
	if err != nil {
		return r, fmt.Errorf("get %s: %w", wl, err)
	}
	return r, nil
}

// waitForWorkloads waits for every workload's rollout to be done, all at
// the same check.
func (w *watcher) waitForWorkloads(ctx context.Context, timeout time.Duration, workloads []workload) *failure {
	rollouts := make([]rollout, len(workloads))
	for i := range rollouts {
		rollouts[i].State = "not checked"
	}
	var last error
	done, f := pollUntil(ctx, w.poll, func(ctx context.Context) (bool, *failure) {
		for i, wl := range workloads {
			r, err := workloadRollout(ctx, w.core, wl)
			if err != nil {
				if ctx.Err() == nil {
					last = err
				}
				return false, nil
			}
			rollouts[i] = r
		}
		for i, r := range rollouts {
			if !r.Ready {
				w.set(StateInstalling, fmt.Sprintf("waiting for %s: %s", workloads[i], r.State), nil)
				return false, nil
			}
		}
		return true, nil
	})
	if done || f != nil {
		return f
	}
	var pending, detail []string
	for i, r := range rollouts {
		line := fmt.Sprintf("%s: %s", workloads[i], r.State)
		if r.Ready {
			line = fmt.Sprintf("%s: ready, %s", workloads[i], r.State)
		} else {
			pending = append(pending, line)
		}
		detail = append(detail, line)
	}
	return &failure{
		Reason: withLastError(fmt.Sprintf("not ready after %s: %s", timeout, strings.Join(pending, "; ")), last),
		Detail: detail,
	}
}
