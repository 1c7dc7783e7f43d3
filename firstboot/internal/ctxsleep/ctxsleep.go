// Package ctxsleep waits for a while or until a context ends, whichever
// comes first: the one pause the node agent's polls and retries share.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits d, or returns ctx.Err() as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
