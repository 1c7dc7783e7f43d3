// Package netns runs test code inside a network namespace the test created
// (`ip netns add NAME`, which pins it at /run/netns/NAME), so tests that
// serve DHCP or boot VMs on a bridge never touch the host's network.
package netns

import (
	"fmt"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs f on an OS thread moved into namespace ns. Sockets f creates and
// processes it starts are in ns; goroutines it starts are not. The thread is
// discarded afterwards, never returned to the Go scheduler's pool.
func Do(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
