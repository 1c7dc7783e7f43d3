package upgradecluster

import (
	"cmp"
	"fmt"
	"slices"
)

// upgradeOrder returns the nodes in the order they are upgraded: servers
// before agents, as K3s requires of a version change (servers first, one
// at a time), and of the servers this one (self) first, since the
// netbooted nodes boot the OS image it serves and the bundle is served
// from it; then by name. self must be one of the servers.
func upgradeOrder(nodes []nodeView, self string) ([]nodeView, error) {
	i := slices.IndexFunc(nodes, func(v nodeView) bool { return v.Name == self })
	switch {
	case i < 0:
		return nil, fmt.Errorf("this node, %s, is not a node of the cluster (--node names it)", self)
	case !nodes[i].Server:
		return nil, fmt.Errorf("this node, %s, is not a server (label %s=true): run the cluster upgrade on the initial server", self, controlPlaneLabel)
	}
	rank := func(v nodeView) int {
		switch {
		case v.Name == self:
			return 0
		case v.Server:
			return 1
		}
		return 2
	}
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b nodeView) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}
