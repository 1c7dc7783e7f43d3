// Command builder bakes bootable appliance artifacts from a site.yaml.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ml-appliance/appliance/builder/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM cancels ctx, and the command winds down;
	// the next one ends the process at once (Go's default), even in a
	// step that does not watch ctx.
	go func() { <-ctx.Done(); stop() }()
	err := cli.New().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "builder: error:", err)
		os.Exit(cli.ExitCode(err))
	}
}
