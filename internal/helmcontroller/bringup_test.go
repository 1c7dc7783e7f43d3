package helmcontroller

import (
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/ml-appliance/appliance/firstboot/bringup"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// runBringup runs firstboot's bring-up in the background; the function it
// returns waits for its result, and the set it returns gathers every
// "component: reason" it reported on the way.
func runBringup(t *testing.T, cfg *rest.Config, p payload.Platform) (func() bringup.Status, *reasons) {
	t.Helper()
	type result struct {
		s   bringup.Status
		err error
	}
	seen := &reasons{set: map[string]bool{}}
	out := make(chan result, 1)
	go func() {
		s, err := bringup.Run(t.Context(), bringup.Options{
			Config: cfg, Platform: p, Poll: 100 * time.Millisecond, APITimeout: 30 * time.Second, OnUpdate: seen.add,
		})
		out <- result{s, err}
	}()
	return func() bringup.Status {
		t.Helper()
		select {
		case r := <-out:
			if r.err != nil {
				t.Fatalf("bring-up: %v", r.err)
			}
			return r.s
		case <-time.After(2 * time.Minute):
			t.Fatal("bring-up did not finish within 2 minutes")
			return bringup.Status{}
		}
	}, seen
}

// reasons is the set of "component: reason" bring-up reported.
type reasons struct {
	mu  sync.Mutex
	set map[string]bool
}

func (r *reasons) add(s bringup.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, cs := range s.Components {
		r.set[cs.Name+": "+cs.Reason] = true
	}
}

func (r *reasons) has(component, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[component+": "+reason]
}
