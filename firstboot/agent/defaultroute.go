package agent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
)

// Default-route wait: how long the step waits for the network to give the
// node a global IPv4 address, and how often it looks.
const (
	// waitOnline is systemd's tool that waits for networkd's links to be
	// configured (a DHCP lease included), and waitOnlineTimeout its bound.
	waitOnline        = "/usr/lib/systemd/systemd-networkd-wait-online"
	waitOnlineTimeout = "--timeout=30"
	addressWait       = 90 * time.Second
	addressPoll       = 2 * time.Second
	fallbackDest      = "default"
	// fallbackMetric keeps the fallback below any route DHCP or the
	// operator's config adds later.
	fallbackMetric = "4096"
)

// defaultRoute makes sure the node has an IPv4 default route before K3s
// starts: K3s picks the node IP and flannel's interface from the default
// route and refuses to start without one. On an isolated network (static
// addresses without a gateway, or a DHCP server that hands out no router)
// there is none, so the step adds an on-link default route on the
// interface that carries the node's first global address, with a metric
// any real default route beats. Every boot, since routes live in RAM. It
// first waits (bounded) for networkd's links to come online, so a DHCP
// lease still on its way is not mistaken for a network without a gateway.
//
// The fallback route is not networkd's: networkd drops routes it does not
// manage when it reconfigures a link (ManageForeignRoutes), so a restart of
// networkd removes it until the next boot.
func defaultRoute(ctx context.Context, env *Env) error {
	if !env.hasK3s() {
		return nil
	}
	if _, err := os.Stat(env.Path(waitOnline)); err == nil {
		// A DHCP lease brings the default route: let it arrive before
		// deciding there is none. On a network without DHCP this ends
		// at the timeout; the fallback below then applies.
		if _, err := env.Runner.Run(ctx, waitOnline, "--any", waitOnlineTimeout); err != nil {
			env.Printf("default-route: no link online yet: %v", err)
		}
	}
	for polls := 0; ; polls++ {
		routes, err := env.Runner.Run(ctx, "ip", "-4", "route", "show", "default")
		if err != nil {
			return err
		}
		if line := strings.TrimSpace(string(routes)); line != "" {
			env.Printf("default-route: %s", firstLine(line))
			return nil
		}
		addrs, err := env.Runner.Run(ctx, "ip", "-4", "-o", "addr", "show", "scope", "global")
		if err != nil {
			return err
		}
		if dev, addr := firstGlobalAddress(string(addrs)); dev != "" {
			if _, err := env.Runner.Run(ctx, "ip", "-4", "route", "add", fallbackDest, "dev", dev, "metric", fallbackMetric); err != nil {
				return err
			}
			env.Printf("default-route: none on this network; added an on-link default route on %s (%s), metric %s, for K3s", dev, addr, fallbackMetric)
			return nil
		}
		if time.Duration(polls)*addressPoll >= addressWait {
			env.Printf("default-route: warning: no global IPv4 address after %s; K3s needs one and a default route", addressWait)
			return nil
		}
		if err := env.sleep(ctx, addressPoll); err != nil {
			return err
		}
	}
}

// firstGlobalAddress reads `ip -4 -o addr show scope global` output
// ("2: eth0    inet 10.0.0.10/24 brd ... scope global eth0\ ...") and returns
// the first interface and address.
func firstGlobalAddress(out string) (dev, addr string) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[2] == "inet" {
			return strings.TrimSuffix(f[1], ":"), f[3]
		}
	}
	return "", ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// sleep waits d on the Env's clock: Env.Sleep when set (tests), else a real
// timer that the context cancels.
func (e *Env) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	if err := ctxsleep.Sleep(ctx, d); err != nil {
		return fmt.Errorf("waiting: %w", err)
	}
	return nil
}
