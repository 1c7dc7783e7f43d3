package upgradecluster

import (
	"slices"
	"strings"
	"testing"
)

func TestUpgradeOrder(t *testing.T) {
	nodes := []nodeView{
		{Name: "w2"}, {Name: "s3", Server: true}, {Name: "w1"},
		{Name: "s2", Server: true}, {Name: "s1", Server: true},
	}
	got, err := upgradeOrder(nodes, "s2")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range got {
		names = append(names, v.Name)
	}
	if want := []string{"s2", "s1", "s3", "w1", "w2"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	for self, want := range map[string]string{
		"w1": "this node, w1, is not a server",
		"x9": "this node, x9, is not a node of the cluster",
	} {
		if _, err := upgradeOrder(nodes, self); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("upgradeOrder from %s: %v, want %q", self, err, want)
		}
	}
}
