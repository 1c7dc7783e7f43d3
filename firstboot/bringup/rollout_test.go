package bringup

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The rollout rules of `kubectl rollout status`, case by case.
func TestRolloutRules(t *testing.T) {
	three := int32(3)
	partition := int32(2)
	tests := []struct {
		name      string
		got       rollout
		wantReady bool
		wantState string
	}{
		{"deployment unobserved", deploymentRollout(&appsv1.Deployment{
			ObjectMeta: objectMeta(2), Spec: appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3},
		}), false, "spec generation 2 not observed yet (observed 1)"},
		{"deployment updating", deploymentRollout(&appsv1.Deployment{
			ObjectMeta: objectMeta(1), Spec: appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 3},
		}), false, "2 of 3 replicas updated, 3 available"},
		{"deployment old replicas", deploymentRollout(&appsv1.Deployment{
			ObjectMeta: objectMeta(1), Spec: appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3},
		}), false, "1 old replicas pending termination"},
		{"deployment unavailable past deadline", deploymentRollout(&appsv1.Deployment{
			ObjectMeta: objectMeta(1), Spec: appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: "False", Reason: "ProgressDeadlineExceeded"}}},
		}), false, "3 of 3 replicas updated, 2 available (progress deadline exceeded)"},
		{"deployment ready", deploymentRollout(&appsv1.Deployment{
			ObjectMeta: objectMeta(1), Spec: appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3},
		}), true, "3 of 3 replicas updated, 3 available"},
		{"statefulset never observed", statefulSetRollout(&appsv1.StatefulSet{
			ObjectMeta: objectMeta(1), Spec: appsv1.StatefulSetSpec{Replicas: &three},
		}), false, "spec generation 1 not observed yet (observed 0)"},
		{"statefulset pods not ready", statefulSetRollout(&appsv1.StatefulSet{
			ObjectMeta: objectMeta(1), Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: rollingUpdate(nil)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 2, UpdatedReplicas: 3},
		}), false, "2 of 3 pods ready, 3 updated"},
		{"statefulset not updated", statefulSetRollout(&appsv1.StatefulSet{
			ObjectMeta: objectMeta(1), Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: rollingUpdate(new(int32))},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 3, UpdatedReplicas: 2},
		}), false, "3 of 3 pods ready, 2 updated"},
		{"statefulset partitioned", statefulSetRollout(&appsv1.StatefulSet{
			ObjectMeta: objectMeta(1), Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: rollingUpdate(&partition)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 3, UpdatedReplicas: 1},
		}), true, "3 of 3 pods ready, 1 updated"},
		{"statefulset revisions differ", statefulSetRollout(&appsv1.StatefulSet{
			ObjectMeta: objectMeta(1), Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 3, UpdatedReplicas: 1, CurrentRevision: "a", UpdateRevision: "b"},
		}), false, "1 pods updated to revision b, current revision a"},
		{"statefulset on delete", statefulSetRollout(&appsv1.StatefulSet{
			ObjectMeta: objectMeta(1), Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 3},
		}), true, "3 of 3 pods ready, 0 updated"},
		{"daemonset not updated", daemonSetRollout(&appsv1.DaemonSet{
			ObjectMeta: objectMeta(1),
			Status:     appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2},
		}), false, "1 of 2 pods updated, 2 available"},
		{"daemonset unavailable", daemonSetRollout(&appsv1.DaemonSet{
			ObjectMeta: objectMeta(1),
			Status:     appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 1},
		}), false, "2 of 2 pods updated, 1 available"},
		{"daemonset ready", daemonSetRollout(&appsv1.DaemonSet{
			ObjectMeta: objectMeta(1),
			Status:     appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 2},
		}), true, "2 of 2 pods updated, 2 available"},
	}
	for _, tt := range tests {
		if tt.got.Ready != tt.wantReady || tt.got.State != tt.wantState {
			t.Errorf("%s: ready %v %q, want ready %v %q", tt.name, tt.got.Ready, tt.got.State, tt.wantReady, tt.wantState)
		}
	}
}

func objectMeta(generation int64) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "x", Generation: generation}
}

func rollingUpdate(partition *int32) appsv1.StatefulSetUpdateStrategy {
	return appsv1.StatefulSetUpdateStrategy{
		Type:          appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition},
	}
}

func TestParseWorkloads(t *testing.T) {
	got, err := parseWorkloads("ns", []string{"Deployment/a", "StatefulSet/b", "DaemonSet/c"})
	want := []workload{{"Deployment", "ns", "a"}, {"StatefulSet", "ns", "b"}, {"DaemonSet", "ns", "c"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseWorkloads = %v, %v; want %v", got, err, want)
	}
	for spec, wantErr := range map[string]string{
		"Job/x":          `workload "Job/x": kind Job is not Deployment, StatefulSet or DaemonSet`,
		"Deployment":     `workload "Deployment": want Kind/name`,
		"Deployment/":    `workload "Deployment/": want Kind/name`,
		"Deployment/a/b": `workload "Deployment/a/b": want Kind/name`,
	} {
		if _, err := parseWorkloads("ns", []string{spec}); err == nil || err.Error() != wantErr {
			t.Errorf("parseWorkloads(%q) error %v, want %s", spec, err, wantErr)
		}
	}
}

func TestComponentTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"": DefaultComponentTimeout, "10m0s": 10 * time.Minute, "90s": 90 * time.Second} {
		if got, err := componentTimeout(in); err != nil || got != want {
			t.Errorf("componentTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"ten minutes", "0s", "-1m"} {
		if _, err := componentTimeout(in); err == nil {
			t.Errorf("componentTimeout(%q) accepted an invalid timeout", in)
		}
	}
}
