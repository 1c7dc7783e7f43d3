package bringup

import (
	"context"
	"fmt"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	"k8s.io/client-go/kubernetes"
)

// apiAttemptTimeout bounds one request for /version, so an address that
// drops packets costs one attempt, not the whole wait.
const apiAttemptTimeout = 10 * time.Second

// waitForAPI asks the API server for /version every poll until it answers
// or timeout passes; the error names the last failure.
func waitForAPI(parent context.Context, core kubernetes.Interface, timeout, poll time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, apiAttemptTimeout)
		_, err := core.Discovery().RESTClient().Get().AbsPath("/version").DoRaw(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		if ctxsleep.Sleep(ctx, poll) != nil {
			if parent.Err() != nil {
				return fmt.Errorf("wait for kubernetes API: %w", parent.Err())
			}
			return fmt.Errorf("kubernetes API not reachable after %s: %w", timeout, last)
		}
	}
}
