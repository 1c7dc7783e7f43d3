package bringup

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// The rules below are those of `kubectl rollout status`
// (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, v0.37.2), with
// two differences: a Deployment past its progress deadline is reported, not
// failed (pods may still come up within the component's timeout), and a
// StatefulSet or DaemonSet with the OnDelete strategy, where kubectl gives
// up, is done when all its pods are ready.

func deploymentRollout(d *appsv1.Deployment) rollout {
	s := d.Status
	if d.Generation > s.ObservedGeneration {
		return rollout{State: fmt.Sprintf("spec generation %d not observed yet (observed %d)", d.Generation, s.ObservedGeneration)}
	}
	want := replicas(d.Spec.Replicas)
	r := rollout{State: fmt.Sprintf("%d of %d replicas updated, %d available", s.UpdatedReplicas, want, s.AvailableReplicas)}
	switch {
	case s.UpdatedReplicas < want:
	case s.Replicas > s.UpdatedReplicas:
		r.State = fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
	default:
		r.Ready = true
	}
	for _, c := range s.Conditions {
		if !r.Ready && c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			r.State += " (progress deadline exceeded)"
		}
	}
	return r
}

func statefulSetRollout(st *appsv1.StatefulSet) rollout {
	s := st.Status
	if s.ObservedGeneration == 0 || st.Generation > s.ObservedGeneration {
		return rollout{State: fmt.Sprintf("spec generation %d not observed yet (observed %d)", st.Generation, s.ObservedGeneration)}
	}
	want := replicas(st.Spec.Replicas)
	r := rollout{State: fmt.Sprintf("%d of %d pods ready, %d updated", s.ReadyReplicas, want, s.UpdatedReplicas)}
	if s.ReadyReplicas < want {
		return r
	}
	strategy := st.Spec.UpdateStrategy
	switch {
	case strategy.Type != "" && strategy.Type != appsv1.RollingUpdateStatefulSetStrategyType:
		r.Ready = true // OnDelete: pods are replaced by hand
	case strategy.RollingUpdate != nil:
		var partition int32
		if strategy.RollingUpdate.Partition != nil {
			partition = *strategy.RollingUpdate.Partition
		}
		r.Ready = s.UpdatedReplicas >= want-partition
	default:
		r.Ready = s.UpdateRevision == s.CurrentRevision
		if !r.Ready {
			r.State = fmt.Sprintf("%d pods updated to revision %s, current revision %s", s.UpdatedReplicas, s.UpdateRevision, s.CurrentRevision)
		}
	}
	return r
}

func daemonSetRollout(d *appsv1.DaemonSet) rollout {
	s := d.Status
	if d.Generation > s.ObservedGeneration {
		return rollout{State: fmt.Sprintf("spec generation %d not observed yet (observed %d)", d.Generation, s.ObservedGeneration)}
	}
	r := rollout{State: fmt.Sprintf("%d of %d pods updated, %d available", s.UpdatedNumberScheduled, s.DesiredNumberScheduled, s.NumberAvailable)}
	rolling := d.Spec.UpdateStrategy.Type == "" || d.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType
	r.Ready = s.NumberAvailable >= s.DesiredNumberScheduled &&
		(!rolling || s.UpdatedNumberScheduled >= s.DesiredNumberScheduled)
	return r
}

// replicas is a spec's replica count (the API defaults nil to 1).
func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}
