package upgradecluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunOrderAndDrain upgrades two agents and three servers created in
// no particular order: the initial server first, the other servers, then
// the agents; each cordoned and drained (a ReplicaSet's pod evicted, a
// DaemonSet's pod and a mirror pod left) when it applies, uncordoned
// after.
func TestRunOrderAndDrain(t *testing.T) {
	c := newCluster(t)
	a2 := c.node(nodeSpec{name: "a2"})
	a1 := c.node(nodeSpec{name: "a1"})
	s3 := c.node(nodeSpec{name: "s3", server: true})
	s1 := c.node(nodeSpec{name: "s1", server: true})
	s2 := c.node(nodeSpec{name: "s2", server: true})
	web := c.pod(s2, "web", replicaSetPod, nil)
	ds := c.pod(s2, "ds", daemonSetPod, nil)
	static := c.pod(s2, "static", mirrorPod, nil)

	if err := c.run(t.Context(), s1, "1.1.0"); err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(c.log.all(), "\n"))
	}

	order := []*nodeDouble{s1, s2, s3, a1, a2}
	var want []string
	for _, n := range order {
		want = append(want, n.name)
	}
	if got := c.applied.all(); !slices.Equal(got, want) {
		t.Errorf("nodes applied in order %v, want %v", got, want)
	}
	for _, n := range order {
		if n.atApply == nil || !n.atApply.unschedulable {
			t.Errorf("node %s was not cordoned when it applied", n.name)
		}
		v := n.view()
		if v.Unschedulable {
			t.Errorf("node %s is still cordoned after the run", n.name)
		}
		if v.Release != "1.1.0" || v.Result.State != StateBlessed {
			t.Errorf("node %s: %s after the run, want 1.1.0 blessed", n.name, describe(v))
		}
		if applies, reboots := n.local.calls(); len(applies) != 1 || applies[0] != testURL || reboots != 1 {
			t.Errorf("node %s: Apply %v, %d reboots; want one of %s, one reboot", n.name, applies, reboots, testURL)
		}
	}
	if s2.atApply == nil {
		t.Fatalf("node %s never applied", s2.name)
	}
	if got := s2.atApply.pods; slices.Contains(got, web.Name) || !slices.Contains(got, ds.Name) || !slices.Contains(got, static.Name) {
		t.Errorf("pods on s2 when it applied: %v; want %s and %s, not %s", got, ds.Name, static.Name, web.Name)
	}
	c.wantLines(t,
		"upgrade: to 1.1.0, one node at a time: servers "+s1.name+" (this node), "+s2.name+", "+s3.name+"; agents "+a1.name+", "+a2.name,
		"upgrade: node "+s2.name+": cordoned",
		"upgrade: node "+s2.name+": evicting 1 pods (2 DaemonSet and mirror pods stay)",
		"upgrade: node "+s2.name+": drained 1 pods (2 DaemonSet and mirror pods stay)",
		"upgrade: node "+s2.name+": asked to apply 1.1.0 from "+testURL,
		"upgrade: node "+s2.name+": running 1.1.0, attempt of 1.1.0 blessed, Ready",
		"upgrade: node "+s2.name+": uncordoned",
		"upgrade: done: 5 nodes on 1.1.0")
	prog, ok, err := ReadProgress(c.progressPath())
	if err != nil || !ok || !slices.Equal(prog.Done, want) || prog.Current != nil {
		t.Errorf("progress %+v (%v, %v), want all nodes done in order", prog, ok, err)
	}
}

// TestRunHonoursDisruptionBudget: a pod whose budget allows no disruption
// keeps the drain waiting (and the node unapplied) until the budget
// allows one.
func TestRunHonoursDisruptionBudget(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	a1 := c.node(nodeSpec{name: "a1"})
	labels := map[string]string{"app": c.prefix + "db"}
	db := c.pod(a1, "db", replicaSetPod, labels)
	c.budget("db", labels, 0)

	done := make(chan error, 1)
	go func() { done <- c.run(t.Context(), s1, "1.1.0") }()
	c.waitLine(t, "upgrade: node "+a1.name+": pod default/"+db.Name+": eviction refused for now")
	time.Sleep(5 * testPoll) // several refused attempts
	c.mustExist(t, db.Name)
	if applies, _ := a1.local.calls(); len(applies) != 0 {
		t.Fatalf("node %s applied while its pod's budget allowed no disruption", a1.name)
	}
	c.allow(c.prefix+"db", 1)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(c.log.all(), "\n"))
	}
	if c.podExists(db.Name) {
		t.Errorf("pod %s not evicted once its budget allowed it", db.Name)
	}
	if applies, _ := a1.local.calls(); len(applies) != 1 {
		t.Errorf("node %s applied %d times, want once", a1.name, len(applies))
	}
}

// TestRunStopsAtFirstRollback: the second server's new release fails its
// boot check and rolls back; the run stops there with the node's reason,
// the node uncordoned, the agent after it untouched.
func TestRunStopsAtFirstRollback(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	s2 := c.node(nodeSpec{name: "s2", server: true,
		comeBack: Result{Release: "1.0.0", State: StateRolledBack, Reason: "boot check: firstboot did not finish"}})
	a1 := c.node(nodeSpec{name: "a1"})

	err := c.run(t.Context(), s1, "1.1.0")
	if err == nil || !strings.Contains(err.Error(), "stopped at node "+s2.name+": rolled-back: boot check: firstboot did not finish") {
		t.Fatalf("Run: %v, want it stopped at %s with its reason\n%s", err, s2.name, strings.Join(c.log.all(), "\n"))
	}
	if v := s2.view(); v.Unschedulable || v.Release != "1.0.0" {
		t.Errorf("node %s after the rollback: cordoned %v, %s; want uncordoned on 1.0.0", s2.name, v.Unschedulable, describe(v))
	}
	if v := a1.view(); v.Unschedulable || v.Wanted != "" || v.RebootRequest != "" {
		t.Errorf("node %s after the stop: cordoned %v, wanted %q; want untouched", a1.name, v.Unschedulable, v.Wanted)
	}
	if applies, _ := a1.local.calls(); len(applies) != 0 {
		t.Errorf("node %s applied after the stop", a1.name)
	}
	prog, _, _ := ReadProgress(c.progressPath())
	if !slices.Equal(prog.Done, []string{s1.name}) || prog.Current != nil || !strings.Contains(prog.Stopped, s2.name) {
		t.Errorf("progress %+v, want %s done and the stop at %s recorded", prog, s1.name, s2.name)
	}

	// Run again with the same release: the node does not try it twice,
	// and the run stops at it again, at once.
	if err := c.run(t.Context(), s1, "1.1.0"); err == nil || !strings.Contains(err.Error(), "stopped at node "+s2.name) {
		t.Errorf("second Run: %v, want it stopped at %s again", err, s2.name)
	}
	if applies, _ := s2.local.calls(); len(applies) != 1 {
		t.Errorf("node %s applied %d times, want once", s2.name, len(applies))
	}
}

// TestRunWaitsForTheBootCheck: a node that comes up on the new release is
// not done until its boot check blesses it; here the check fails, the
// node rolls back to the old slot, and the run stops there.
func TestRunWaitsForTheBootCheck(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	a1 := c.node(nodeSpec{name: "a1", comeBack: Result{Release: "1.1.0", State: StateApplied}, checkFails: "boot check: k3s-agent.service not active"})
	a2 := c.node(nodeSpec{name: "a2"})

	err := c.run(t.Context(), s1, "1.1.0")
	if err == nil || !strings.Contains(err.Error(), "stopped at node "+a1.name+": rolled-back: boot check: k3s-agent.service not active") {
		t.Fatalf("Run: %v, want it stopped at %s\n%s", err, a1.name, strings.Join(c.log.all(), "\n"))
	}
	c.wantLines(t, "upgrade: node "+a1.name+": running 1.1.0, attempt of 1.1.0 applied, Ready")
	if applies, _ := a2.local.calls(); len(applies) != 0 {
		t.Errorf("node %s applied after the stop", a2.name)
	}
}

// TestRunStopsWhenANodeComesBackOld: the node reboots after applying and
// runs its old release again, with no record of why (systemd-boot fell
// back before any check ran): its new boot ID says it rebooted.
func TestRunStopsWhenANodeComesBackOld(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	a1 := c.node(nodeSpec{name: "a1", comeBack: Result{Release: "1.0.0", State: StateApplied}})

	err := c.run(t.Context(), s1, "1.1.0")
	if err == nil || !strings.Contains(err.Error(), "stopped at node "+a1.name+": rebooted and came back on release 1.0.0") {
		t.Fatalf("Run: %v, want it stopped at %s\n%s", err, a1.name, strings.Join(c.log.all(), "\n"))
	}
}

// TestRunResumes: the run ends (the initial server reboots into the new
// release while its own upgrade is waited for); the next run takes up the
// progress file: it waits for this node without cordoning or draining it
// again, skips the node already on the release, and does the rest.
func TestRunResumes(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	s2 := c.node(nodeSpec{name: "s2", server: true, release: "1.1.0"})
	a1 := c.node(nodeSpec{name: "a1"})

	ctx, kill := context.WithCancel(t.Context())
	go func() {
		c.waitLine(t, "upgrade: node "+s1.name+": asked to apply")
		kill()
	}()
	if err := c.run(ctx, s1, "1.1.0"); err == nil {
		t.Fatal("Run not cut short")
	}
	prog, _, _ := ReadProgress(c.progressPath())
	if prog.Current == nil || prog.Current.Node != s1.name || prog.Current.Step != StepRequested || prog.Current.BootID == "" {
		t.Fatalf("progress after the cut %+v, want %s requested with its boot", prog, s1.name)
	}

	first := len(c.log.all())
	if err := c.run(t.Context(), s1, "1.1.0"); err != nil {
		t.Fatalf("resumed Run: %v\n%s", err, strings.Join(c.log.all(), "\n"))
	}
	second := c.log.all()[first:]
	for _, l := range second {
		if strings.HasPrefix(l, "upgrade: node "+s1.name+": cordoned") || strings.HasPrefix(l, "upgrade: node "+s2.name+": cordoned") {
			t.Errorf("resumed run: %q", l)
		}
	}
	c.wantLines(t,
		"upgrade: resuming the upgrade to 1.1.0 at node "+s1.name+" (requested)",
		"upgrade: node "+s1.name+": uncordoned",
		"upgrade: node "+s2.name+": already on 1.1.0",
		"upgrade: node "+a1.name+": uncordoned",
		"upgrade: done: 3 nodes on 1.1.0")
	for _, n := range []*nodeDouble{s1, a1} {
		if applies, _ := n.local.calls(); len(applies) != 1 {
			t.Errorf("node %s applied %d times, want once", n.name, len(applies))
		}
	}
	if applies, _ := s2.local.calls(); len(applies) != 0 {
		t.Errorf("node %s on the release already applied it", s2.name)
	}
}

// TestRunRebootsNetbootedNode: a netbooted node is asked to reboot (into
// the OS image the initial server now serves), not to apply.
func TestRunRebootsNetbootedNode(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	a1 := c.node(nodeSpec{name: "a1", medium: MediumNetboot})

	if err := c.run(t.Context(), s1, "1.1.0"); err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(c.log.all(), "\n"))
	}
	v := a1.view()
	if v.RebootRequest != "1.1.0" || v.Wanted != "" || v.Release != "1.1.0" {
		t.Errorf("netbooted node %s: reboot request %q, wanted %q, %s; want a reboot request for 1.1.0 and the release",
			a1.name, v.RebootRequest, v.Wanted, describe(v))
	}
	if applies, reboots := a1.local.calls(); len(applies) != 0 || reboots != 1 {
		t.Errorf("netbooted node %s: %d applies, %d reboots; want none and one", a1.name, len(applies), reboots)
	}
	c.wantLines(t, "upgrade: node "+a1.name+": asked to reboot into 1.1.0 (netbooted)")
}

// TestRunLeavesACordonedNodeCordoned: a node someone cordoned before the
// upgrade is upgraded and stays cordoned.
func TestRunLeavesACordonedNodeCordoned(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	a1 := c.node(nodeSpec{name: "a1"})
	if err := setSchedulable(t.Context(), c.client, a1.name, false); err != nil {
		t.Fatal(err)
	}
	if err := c.run(t.Context(), s1, "1.1.0"); err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(c.log.all(), "\n"))
	}
	if v := a1.view(); !v.Unschedulable || v.Release != "1.1.0" {
		t.Errorf("node %s: cordoned %v, %s; want still cordoned, on 1.1.0", a1.name, v.Unschedulable, describe(v))
	}
	if s1.view().Unschedulable {
		t.Errorf("node %s still cordoned", s1.name)
	}
	c.wantLines(t, "upgrade: node "+a1.name+": left cordoned, as it was before the upgrade")
}

// TestRunRefusesNodesWithoutWatcher: a node whose watcher never published
// would never answer: nothing starts.
func TestRunRefusesNodesWithoutWatcher(t *testing.T) {
	c := newCluster(t)
	s1 := c.node(nodeSpec{name: "s1", server: true})
	a1 := c.node(nodeSpec{name: "a1"})
	a2 := c.bareNode("a2") // no watcher

	err := c.run(t.Context(), s1, "1.1.0")
	if err == nil || !strings.Contains(err.Error(), "nodes "+a2+" publish no release") {
		t.Fatalf("Run: %v, want it refused naming %s", err, a2)
	}
	for _, n := range []*nodeDouble{s1, a1} {
		if n.view().Unschedulable {
			t.Errorf("node %s cordoned by a refused run", n.name)
		}
	}
}

// wantLines fails t unless the log has each line, in this order.
func (c *cluster) wantLines(t *testing.T, want ...string) {
	t.Helper()
	got := c.log.all()
	i := 0
	for _, l := range got {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("log lacks %q (or has it out of order):\n%s", want[i], strings.Join(got, "\n"))
	}
}

// waitLine waits until a log line starts with prefix.
func (c *cluster) waitLine(t *testing.T, prefix string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range c.log.all() {
			if strings.HasPrefix(l, prefix) {
				return
			}
		}
		time.Sleep(testPoll / 5)
	}
	t.Errorf("no log line %q in 20 s:\n%s", prefix, strings.Join(c.log.all(), "\n"))
}
