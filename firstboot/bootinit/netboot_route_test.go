package bootinit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/ml-appliance/appliance/internal/netns"
)

// TestRtentryLayout pins struct rtentry's layout on 64-bit Linux
// (linux/route.h: 120 bytes; rt_flags at 56, rt_metric at 80, rt_dev at
// 88, rt_irtt at 112), which SIOCADDRT reads.
func TestRtentryLayout(t *testing.T) {
	var rt rtentry
	got := fmt.Sprint(unsafe.Sizeof(rt), unsafe.Offsetof(rt.dst), unsafe.Offsetof(rt.gateway), unsafe.Offsetof(rt.genmask),
		unsafe.Offsetof(rt.flags), unsafe.Offsetof(rt.metric), unsafe.Offsetof(rt.dev), unsafe.Offsetof(rt.irtt))
	if want := "120 8 24 40 56 80 88 112"; got != want {
		t.Errorf("rtentry size and offsets %s, want %s", got, want)
	}
}

// TestAddDefaultRoute adds the route in a network namespace of its own,
// on one end of a veth pair, and reads it back with ip(8).
func TestAddDefaultRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a network namespace")
	}
	if os.Getuid() != 0 {
		// Fail, not skip: make test runs as root; -short leaves this out.
		t.Fatal("needs root for a network namespace: run as root, or with -short")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("needs ip (Debian package iproute2)")
	}
	ns := fmt.Sprintf("bootinit-route-%d", os.Getpid())
	ip := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ip("addr", "add", "10.77.0.2/24", "dev", "v0")
	ip("link", "set", "v0", "up")
	ip("link", "set", "v1", "up")

	if err := netns.Do(ns, func() error { return addDefaultRoute(net.IPv4(10, 77, 0, 1)) }); err != nil {
		t.Fatalf("addDefaultRoute: %v", err)
	}
	if got := ip("-4", "route", "show", "default"); !strings.HasPrefix(got, "default via 10.77.0.1 dev v0") {
		t.Errorf("default route %q, want via 10.77.0.1 dev v0", got)
	}
	// A gateway off every subnet is refused, as route(8) would be.
	if err := netns.Do(ns, func() error { return addDefaultRoute(net.IPv4(10, 78, 0, 1)) }); err == nil {
		t.Errorf("addDefaultRoute via an unreachable gateway succeeded")
	}
}
