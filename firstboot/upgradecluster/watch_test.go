package upgradecluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
)

// watchOne runs Watch for a node until the test ends; the channel gets
// what it returned.
func watchOne(t *testing.T, client kubernetes.Interface, node string, local Local, boot string) <-chan error {
	ctx, cancel := context.WithCancel(t.Context())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		done <- Watch(ctx, client, node, local, WatchOptions{BootID: boot, Poll: testPoll})
	}()
	t.Cleanup(func() { cancel(); <-finished })
	return done
}

// returned waits for a Watch to return (a reboot), for at most 20 s.
func returned(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Watch did not return (no reboot) in 20 s")
	}
}

// stillRunning fails t if a Watch returned within a few polls.
func stillRunning(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("Watch returned %v; want it watching on", err)
	case <-time.After(5 * testPoll):
	}
}

// ask annotates a node as the orchestrator does.
func (c *cluster) ask(name string, set map[string]*string) {
	c.t.Helper()
	if err := annotate(c.ctx, c.client, name, set); err != nil {
		c.t.Fatal(err)
	}
}

// TestWatchAppliesOnce: the watcher publishes the node's state, applies
// the wanted release (its attempt recorded before Apply), reboots, and in
// the next boot publishes the new release, blessed, without applying
// again.
func TestWatchAppliesOnce(t *testing.T) {
	c := newCluster(t)
	name := c.bareNode("n1")
	local := &localDouble{release: "1.0.0", medium: MediumDisk, serving: func() string { return "1.1.0" }}
	var atApply Result
	local.onApply = func() { atApply = c.nodeView(name).Result }

	done := watchOne(t, c.client, name, local, "boot-1")
	v := c.waitNode(name, func(v nodeView) bool { return v.Published == "boot-1" })
	if v.Release != "1.0.0" || v.Medium != MediumDisk || v.Result != (Result{}) {
		t.Errorf("published %+v, want release 1.0.0, disk, no result", v)
	}
	c.ask(name, map[string]*string{AnnotationWantedRelease: strp("1.1.0"), AnnotationBundleURL: strp(testURL)})
	returned(t, done)
	if applies, reboots := local.calls(); len(applies) != 1 || applies[0] != testURL || reboots != 1 {
		t.Fatalf("Apply %v, %d reboots; want one Apply of %s and a reboot", applies, reboots, testURL)
	}
	if atApply != (Result{Release: "1.1.0", State: StateApplying}) {
		t.Errorf("result on the Node when Apply ran: %+v, want 1.1.0 applying", atApply)
	}
	if got := c.nodeView(name).Result; got != (Result{Release: "1.1.0", State: StateApplied}) {
		t.Errorf("result after Apply: %+v, want 1.1.0 applied", got)
	}

	local.comeBack(Result{})
	watchOne(t, c.client, name, local, "boot-2")
	v = c.waitNode(name, func(v nodeView) bool { return v.Published == "boot-2" })
	if v.Release != "1.1.0" || v.Result != (Result{Release: "1.1.0", State: StateBlessed}) {
		t.Errorf("published after the reboot: %s, want 1.1.0 blessed", describe(v))
	}
	if applies, _ := local.calls(); len(applies) != 1 {
		t.Errorf("applied %d times, want once", len(applies))
	}
}

// TestWatchTriesAReleaseOnce: back on the old release after a rollback,
// the watcher publishes why and does not apply the release again, however
// often it is asked.
func TestWatchTriesAReleaseOnce(t *testing.T) {
	c := newCluster(t)
	name := c.bareNode("n1")
	local := &localDouble{release: "1.0.0", medium: MediumDisk, serving: func() string { return "1.1.0" }}
	returnedAfter := watchOne(t, c.client, name, local, "boot-1")
	c.waitNode(name, func(v nodeView) bool { return v.Published == "boot-1" })
	c.ask(name, map[string]*string{AnnotationWantedRelease: strp("1.1.0"), AnnotationBundleURL: strp(testURL)})
	returned(t, returnedAfter)

	local.comeBack(Result{Release: "1.0.0", State: StateRolledBack, Reason: "boot check: node not Ready in 10m\nsee the journal"})
	done := watchOne(t, c.client, name, local, "boot-2")
	v := c.waitNode(name, func(v nodeView) bool { return v.Published == "boot-2" })
	want := Result{Release: "1.1.0", State: StateRolledBack, Reason: "boot check: node not Ready in 10m see the journal"}
	if v.Release != "1.0.0" || v.Result != want {
		t.Errorf("published %s, %+v; want 1.0.0 and %+v", describe(v), v.Result, want)
	}
	c.ask(name, map[string]*string{AnnotationBundleURL: strp(testURL + "?again")})
	stillRunning(t, done)
	if applies, reboots := local.calls(); len(applies) != 1 || reboots != 1 {
		t.Errorf("%d applies, %d reboots; want the one of the first boot", len(applies), reboots)
	}
}

// TestWatchRecordsFailures: an Apply that fails, or a request the watcher
// refuses, is published as failed with its reason; the node does not
// reboot and the watcher goes on.
func TestWatchRecordsFailures(t *testing.T) {
	for _, tc := range []struct {
		name, url, reason string
		applyErr          error
		applies           int
	}{
		{name: "apply", url: testURL, applyErr: errors.New("fetch manifest.json: connection refused"), reason: "fetch manifest.json: connection refused", applies: 1},
		{name: "url", url: "file:///etc/shadow", reason: `bundle URL "file:///etc/shadow": want http://host[:port]/path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			name := c.bareNode("n1")
			local := &localDouble{release: "1.0.0", medium: MediumDisk, applyErr: tc.applyErr, serving: func() string { return "1.1.0" }}
			done := watchOne(t, c.client, name, local, "boot-1")
			c.waitNode(name, func(v nodeView) bool { return v.Published == "boot-1" })
			c.ask(name, map[string]*string{AnnotationWantedRelease: strp("1.1.0"), AnnotationBundleURL: strp(tc.url)})
			v := c.waitNode(name, func(v nodeView) bool { return v.Result.State == StateFailed })
			if v.Result != (Result{Release: "1.1.0", State: StateFailed, Reason: tc.reason}) {
				t.Errorf("result %+v, want 1.1.0 failed: %s", v.Result, tc.reason)
			}
			stillRunning(t, done)
			if applies, reboots := local.calls(); len(applies) != tc.applies || reboots != 0 {
				t.Errorf("%d applies, %d reboots; want %d and none", len(applies), reboots, tc.applies)
			}
		})
	}
}

// TestWatchWaitsForItsNode: started before K3s registered the node, the
// watcher publishes once the Node exists.
func TestWatchWaitsForItsNode(t *testing.T) {
	c := newCluster(t)
	local := &localDouble{release: "1.0.0", medium: MediumNetboot}
	watchOne(t, c.client, c.prefix+"late", local, "boot-1")
	time.Sleep(3 * testPoll)
	name := c.bareNode("late")
	if v := c.waitNode(name, func(v nodeView) bool { return v.Published == "boot-1" }); v.Medium != MediumNetboot {
		t.Errorf("published medium %q, want netboot", v.Medium)
	}
}

func (c *cluster) nodeView(name string) nodeView {
	c.t.Helper()
	return (&nodeDouble{c: c, name: name}).view()
}

func (c *cluster) waitNode(name string, cond func(nodeView) bool) nodeView {
	c.t.Helper()
	return (&nodeDouble{c: c, name: name}).waitFor("state", cond)
}

func TestOneLine(t *testing.T) {
	long := strings.Repeat("é", maxReason)
	if got := oneLine(long); len(got) > maxReason+3 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(got, "éé") {
		t.Errorf("oneLine of %d bytes: %d bytes %q...", len(long), len(got), got[:8])
	}
	if got := oneLine(" a\tb\r\nc "); got != "a b  c" {
		t.Errorf("oneLine = %q", got)
	}
}
