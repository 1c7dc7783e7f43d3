// Package hostcheck checks, on a booted node and before K3s starts, what
// K3s needs from the host: the kernel options and modules of K3s,
// containerd and flannel's VXLAN backend, cgroup v2 with the controllers
// K3s and kubelet use, AppArmor with its parser, the iptables K3s drives,
// modprobe, and a resolver that answers. It is the appliance's own check,
// written from what K3s's contrib/util/check-config.sh verifies and from
// the K3s, kubelet and containerd code that fails without each item (cited
// where each is checked); it does not run that script.
//
//	rep, err := hostcheck.Run(ctx, hostcheck.Options{Root: "/", Runner: runner})
//	for _, line := range rep.Lines() {
//		fmt.Println(line)
//	}
//	if !rep.Passed() {
//		// do not start K3s
//	}
//
// A requirement is hard (K3s, kubelet or containerd fails without it: the
// node must not start K3s) or soft (a feature degrades: a warning). Kernel
// options are read from the kernel's config (/proc/config.gz or
// /boot/config-<release>) when the node has one; without it, from what the
// running kernel shows: its modules (loaded, in modules.builtin, or
// loadable through modules.dep) and /proc. Every path is taken under
// Options.Root, so tests run the check against a temp dir; host tools run
// through Options.Runner. The package prints nothing.
package hostcheck

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Runner runs a host tool and returns its combined output; a missing tool
// is an error wrapping exec.ErrNotFound.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// Options configures Run.
type Options struct {
	// Root is the host root; every path is taken under it.
	Root string
	// Runner runs iptables (`iptables --version`). Required.
	Runner Runner
	// ServerName is the host name of the K3s server this node joins, ""
	// on the initial server or when the server is an address: the resolver
	// checks look it up.
	ServerName string
	// Dial connects to a name server (default: UDP to its address);
	// tests point it at a server of their own.
	Dial func(ctx context.Context, server netip.AddrPort) (net.Conn, error)
	// DNSWait bounds the wait for a resolv.conf K3s would accept (default
	// DefaultDNSWait); DNSTimeout bounds one question (default 2s).
	DNSWait, DNSTimeout time.Duration
	// Sleep waits between polls (default: a timer the context cancels).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps the report (default time.Now).
	Now func() time.Time
}

// DefaultDNSWait is how long Run waits for systemd-resolved to list the
// name servers DHCP gave: the check runs right after the network comes
// online, and K3s reads the file once, when it starts.
const DefaultDNSWait = 10 * time.Second

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Dial == nil {
		o.Dial = dialUDP
	}
	if o.DNSWait == 0 {
		o.DNSWait = DefaultDNSWait
	}
	if o.DNSTimeout == 0 {
		o.DNSTimeout = 2 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = ctxsleep.Sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// path is p (an absolute path of the host) under Root.
func (o Options) path(p string) string { return filepath.Join(o.Root, p) }

// ErrNotBooted is Run's error when Root shows no running kernel
// (/proc/sys/kernel/osrelease): there is nothing to check.
var ErrNotBooted = errors.New("no running kernel under the root (no /proc/sys/kernel/osrelease)")

// Run checks the host at Options.Root. Its error is for a check that could
// not run at all; what is missing is in the Report.
func Run(ctx context.Context, o Options) (Report, error) {
	o = o.withDefaults()
	release, err := readTrimmed(o.path("/proc/sys/kernel/osrelease"))
	if errors.Is(err, fs.ErrNotExist) {
		return Report{}, ErrNotBooted
	}
	if err != nil {
		return Report{}, err
	}
	rep := Report{Checked: o.Now().UTC(), Kernel: release}
	k, problems := loadKernel(o, release)
	rep.KernelConfig = k.configPath
	iptables, mode := checkIptables(ctx, o)
	results, unchecked, loadable := k.check(kernelItems(mode))
	rep.Unchecked = unchecked
	rep.Results = append(append(results, problems...),
		checkCgroups(o),
		checkAppArmor(o),
		iptables,
		checkModprobe(o, loadable),
		checkSwap(o),
		checkKeys(o),
	)
	rep.Results = append(rep.Results, checkResolvers(ctx, o)...)
	return rep, nil
}

// Largest files read: a kernel config is ~250 KB, a modules.dep ~600 KB.
const (
	maxSmallFile  = 64 << 10
	maxKernelFile = 16 << 20
)

// readTrimmed reads a small file, space trimmed.
func readTrimmed(path string) (string, error) {
	data, err := smallfile.Read(path, maxSmallFile)
	return strings.TrimSpace(string(data)), err
}

// exists reports whether path exists (symbolic links followed).
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
