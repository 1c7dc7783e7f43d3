package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"time"

	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
)

// NTP through systemd-timesyncd, which the base OS has and runs from
// sysinit.target, before this agent. Read in Debian 12's systemd 252
// (src/timesync/timesyncd-manager.c, manager_receive_response): on the first
// good NTP answer timesyncd steps the clock (offsets over 0.4 s) and touches
// /run/systemd/timesync/synchronized, the flag systemd-time-wait-sync also
// waits for. The flag lives in timesyncd's RuntimeDirectory, which systemd
// removes when the service stops, so after a restart it means a sync by the
// restarted timesyncd with the new servers.
const (
	timesyncFlag = "/run/systemd/timesync/synchronized"
	timesyncUnit = "systemd-timesyncd.service"
	// siteNTPDropIn carries the site's cluster.network.ntp when the
	// cloud-config has no ntp (whose own drop-in, 50-cloud-config.conf,
	// is the time step's).
	siteNTPDropIn = "/etc/systemd/timesyncd.conf.d/40-appliance-site.conf"
)

// ntpPlan is which NTP servers the node uses and who said so.
type ntpPlan struct {
	servers []string
	origin  string
}

// planNTP picks the NTP servers: the cloud-config's ntp when it has one
// (the time step applied it), else, on a node with a static address, the
// site's cluster.network.ntp, which this step writes to siteNTPDropIn and
// restarts timesyncd for. The cloud-config replaces the site's servers
// rather than adding to them, as it does the site's other settings.
func planNTP(ctx context.Context, env *Env) (ntpPlan, error) {
	if ntp := env.Cloud.NTP; ntp != nil {
		if !ntp.Enabled {
			return ntpPlan{origin: "cloud-config ntp, disabled"}, nil
		}
		return ntpPlan{servers: append(append([]string(nil), ntp.Servers...), ntp.Pools...), origin: "cloud-config ntp"}, nil
	}
	// The site's servers are those of nodes with a static address, as
	// its gateway and DNS are (inventoryNetwork); a node on DHCP takes
	// NTP servers from its lease (networkd hands them to timesyncd).
	var servers []string
	if c, n := env.Config.Cluster, env.inventoryEntry(); c != nil && c.Network != nil && n != nil && n.Address != "" {
		servers = c.Network.NTP
	}
	if len(servers) == 0 {
		return ntpPlan{}, nil
	}
	for _, s := range servers {
		if !validNTPHost(s) {
			return ntpPlan{}, fmt.Errorf("cluster.network.ntp: %q is not a host name or an IP address", s)
		}
	}
	changed, err := cloudconfig.WriteTimesyncdDropIn(env.Root, siteNTPDropIn, "the site's cluster.network.ntp", servers)
	if err != nil {
		return ntpPlan{}, fmt.Errorf("site NTP: %w", err)
	}
	if changed {
		if _, err := env.Runner.Run(ctx, "systemctl", "restart", timesyncUnit); err != nil {
			env.Printf("clock: warning: %v", err)
		}
	}
	return ntpPlan{servers: servers, origin: "site cluster.network.ntp"}, nil
}

// ntpHost is a DNS name; validNTPHost also takes IP addresses. Both keep a
// value on its line of the timesyncd drop-in.
var ntpHost = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\.?$`)

func validNTPHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return len(s) <= 253 && ntpHost.MatchString(s)
}

// ntpSynced reports whether timesyncd has synchronized the clock this boot.
func ntpSynced(env *Env) bool {
	_, err := os.Stat(env.Path(timesyncFlag))
	return err == nil
}

// waitNTP waits up to wait for timesyncd's first synchronization.
func waitNTP(ctx context.Context, env *Env, wait, poll time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for !ntpSynced(env) {
		if env.sleep(ctx, poll) != nil {
			return ntpSynced(env)
		}
	}
	return true
}
