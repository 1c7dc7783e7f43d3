package nodelabels

import (
	"slices"
	"testing"
)

func TestMergeLetsTheCloudConfigReplaceInventoryItems(t *testing.T) {
	labels := MergeLabels(
		[]string{"rack=r1", "gpu=a100", "zone=z1"},
		[]string{"gpu=h100", "team=ml"})
	if want := []string{"rack=r1", "zone=z1", "gpu=h100", "team=ml"}; !slices.Equal(labels, want) {
		t.Errorf("labels: got %q, want %q", labels, want)
	}
	if probs := CheckLabels(labels); len(probs) != 0 {
		t.Errorf("merged labels do not pass CheckLabels: %+v", probs)
	}

	taints := MergeTaints(
		[]string{"gpu=true:NoSchedule", "gpu=true:NoExecute", "dedicated:PreferNoSchedule"},
		[]string{"gpu=false:NoSchedule"})
	if want := []string{"gpu=true:NoExecute", "dedicated:PreferNoSchedule", "gpu=false:NoSchedule"}; !slices.Equal(taints, want) {
		t.Errorf("taints: got %q, want %q", taints, want)
	}
	if probs := CheckTaints(taints); len(probs) != 0 {
		t.Errorf("merged taints do not pass CheckTaints: %+v", probs)
	}
	// Without the merge the same lists are refused: the case is real.
	if probs := CheckTaints([]string{"gpu=true:NoSchedule", "gpu=false:NoSchedule"}); len(probs) != 1 {
		t.Errorf("a key and effect given twice: got %+v, want one problem", probs)
	}
}
