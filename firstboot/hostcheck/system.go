package hostcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// cgroupControllers are the cgroup v2 controllers checked: K3s refuses to
// start without cpu, cpuset and memory (k3s pkg/cgroups validateCgroupsV2:
// "failed to find %s cgroup (v2)"), and check-config counts pids among the
// necessary (CGROUP_PIDS); kubelet uses all four (k8s pkg/kubelet/cm
// getSupportedUnifiedControllers).
var cgroupControllers = []string{"cpu", "cpuset", "memory", "pids"}

// checkCgroups wants cgroup v2 at /sys/fs/cgroup with cgroupControllers.
// cgroup v1 is a hard failure: kubelet v1.36 refuses it (failCgroupV1
// defaults to true: k8s pkg/kubelet/apis/config/v1beta1 defaults.go).
func checkCgroups(o Options) Result {
	r := Result{Name: "cgroup v2", Hard: true}
	fstype, err := mountType(o, "/sys/fs/cgroup")
	switch {
	case err != nil:
		r.Detail = err.Error()
		return r
	case fstype == "":
		r.Detail = "nothing is mounted on /sys/fs/cgroup"
		return r
	case fstype != "cgroup2":
		r.Detail = "/sys/fs/cgroup is " + fstype + " (cgroup v1 or hybrid): kubelet v1.36 refuses cgroup v1 (failCgroupV1 defaults to true)"
		return r
	}
	data, err := readTrimmed(o.path("/sys/fs/cgroup/cgroup.controllers"))
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	have := map[string]bool{}
	for _, c := range strings.Fields(data) {
		have[c] = true
	}
	var lacking []string
	for _, c := range cgroupControllers {
		if !have[c] {
			lacking = append(lacking, c)
		}
	}
	if len(lacking) > 0 {
		r.Detail = fmt.Sprintf("no %s controller in /sys/fs/cgroup/cgroup.controllers (%q): K3s refuses to start without cpu, cpuset and memory, kubelet limits pods with all of %s",
			strings.Join(lacking, ", "), data, strings.Join(cgroupControllers, ", "))
		return r
	}
	r.OK, r.Detail = true, "cgroup2 on /sys/fs/cgroup with controllers "+strings.Join(cgroupControllers, " ")
	return r
}

// mountType is the filesystem type of the last mount on mountPoint in
// /proc/self/mountinfo, "" when nothing is mounted there.
func mountType(o Options, mountPoint string) (string, error) {
	data, err := smallfile.Read(o.path("/proc/self/mountinfo"), maxKernelFile)
	if err != nil {
		return "", err
	}
	fstype := ""
	for _, line := range strings.Split(string(data), "\n") {
		// "36 35 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw"
		fields := strings.Fields(line)
		_, after, ok := strings.Cut(line, " - ")
		if !ok || len(fields) < 5 || fields[4] != mountPoint {
			continue
		}
		if f := strings.Fields(after); len(f) > 0 {
			fstype = f[0]
		}
	}
	return fstype, nil
}

// apparmorParser is the parser containerd looks for, at exactly this path
// (containerd v2 pkg/apparmor hostSupports: os.Stat("/sbin/apparmor_parser")).
const apparmorParser = "/sbin/apparmor_parser"

// checkAppArmor wants AppArmor enabled in the kernel and its parser
// present. Enabled without the parser is a hard failure: kubelet admits
// pods that ask for a profile when the kernel has AppArmor (k8s
// pkg/security/apparmor validateHost checks the kernel only), and
// containerd then refuses to create them ("apparmor is not supported":
// containerd v2 internal/cri/sputil GenerateApparmorSpecOpts), since it
// finds no parser. Not enabled is a warning: kubelet refuses such pods
// itself, cleanly.
func checkAppArmor(o Options) Result {
	r := Result{Name: "AppArmor"}
	enabled, _ := readTrimmed(o.path("/sys/module/apparmor/parameters/enabled"))
	if !strings.HasPrefix(enabled, "Y") || !exists(o.path("/sys/kernel/security/apparmor")) {
		r.Detail = "not enabled in the kernel" + cmdlineLSM(o) + ": kubelet refuses pods that ask for an AppArmor profile"
		return r
	}
	r.Hard = true
	if !isExecutable(o.path(apparmorParser)) {
		r.Detail = "enabled in the kernel, but " + apparmorParser + " is missing: kubelet admits pods that ask for a profile and containerd refuses to create them (install the apparmor package)"
		return r
	}
	r.OK, r.Detail = true, "enabled in the kernel; "+apparmorParser+" present, so containerd confines containers with its default profile"
	return r
}

// cmdlineLSM names kernel parameters that turn AppArmor off, if any.
func cmdlineLSM(o Options) string {
	cmdline, _ := readTrimmed(o.path("/proc/cmdline"))
	var found []string
	for _, arg := range strings.Fields(cmdline) {
		name, value, _ := strings.Cut(arg, "=")
		switch {
		case name == "apparmor" && value == "0",
			name == "security" && value != "apparmor",
			name == "lsm" && !strings.Contains(","+value+",", ",apparmor,"):
			found = append(found, arg)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return " (kernel command line: " + strings.Join(found, " ") + ")"
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// iptablesVersion parses `iptables --version`: "iptables v1.8.9 (nf_tables)".
var iptablesVersion = regexp.MustCompile(`^iptables v(\d+)\.(\d+)\.(\d+)(?: \((\w+)\))?`)

// checkIptables runs `iptables --version` and returns its result and the
// backend ("nf_tables", "legacy", or "" when unknown). Missing iptables is
// a warning: K3s then uses the iptables it bundles. Versions 1.8.0 to 1.8.3
// on nf_tables are a hard failure, as check-config.sh has them ("should be
// older than v1.8.0, newer than v1.8.3, or in legacy mode").
func checkIptables(ctx context.Context, o Options) (Result, string) {
	r := Result{Name: "iptables"}
	out, err := o.Runner.Run(ctx, "iptables", "--version")
	if errors.Is(err, exec.ErrNotFound) {
		r.Detail = "not installed: K3s falls back to the iptables it bundles"
		return r, ""
	}
	if err != nil {
		r.Detail = err.Error()
		return r, ""
	}
	line := strings.TrimSpace(string(out))
	m := iptablesVersion.FindStringSubmatch(line)
	if m == nil {
		r.Detail = fmt.Sprintf("cannot read the version from %q", line)
		return r, ""
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	patch, _ := strconv.Atoi(m[3])
	mode := m[4]
	r.Hard = true
	if major == 1 && minor == 8 && patch <= 3 && mode != "legacy" {
		r.Detail = line + ": iptables 1.8.0 to 1.8.3 on nf_tables duplicate and lose rules; K3s's check-config wants it older than 1.8.0, newer than 1.8.3, or in legacy mode"
		return r, mode
	}
	r.OK, r.Detail = true, line
	return r, mode
}

// modprobePaths are where kmod installs modprobe, merged /usr or not.
var modprobePaths = []string{"/usr/sbin/modprobe", "/sbin/modprobe"}

// checkModprobe wants modprobe: K3s loads overlay, nf_conntrack,
// br_netfilter and iptable_nat with it at start (k3s pkg/agent/syssetup
// loadKernelModule). Missing, it is a hard failure when a hard
// requirement's module is only loadable (loadable lists them), else a
// warning.
func checkModprobe(o Options, loadable []string) Result {
	r := Result{Name: "modprobe", Hard: len(loadable) > 0}
	for _, p := range modprobePaths {
		if isExecutable(o.path(p)) {
			r.OK, r.Detail = true, p+" (K3s loads overlay, nf_conntrack, br_netfilter and iptable_nat with it)"
			return r
		}
	}
	if r.Hard {
		r.Detail = "not installed, and modules K3s needs are not loaded yet (" + strings.Join(loadable, " ") + "): K3s loads them with modprobe"
		return r
	}
	r.Detail = "not installed (every module K3s needs is loaded or built in)"
	return r
}

// checkSwap warns when swap is on, as check-config.sh does ("should be
// disabled"): kubelet's memory accounting and evictions assume none.
func checkSwap(o Options) Result {
	r := Result{Name: "swap"}
	data, err := readTrimmed(o.path("/proc/swaps"))
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	lines := strings.Split(data, "\n")
	if len(lines) > 1 {
		r.Detail = fmt.Sprintf("on (%s): K3s's check-config wants it disabled; kubelet's memory accounting and evictions assume no swap", plural(len(lines)-1, "device"))
		return r
	}
	r.OK, r.Detail = true, "off"
	return r
}

// minRootMaxKeys is check-config.sh's lower bound for
// kernel.keys.root_maxkeys: every container takes a keyring.
const minRootMaxKeys = 10000

func checkKeys(o Options) Result {
	r := Result{Name: "kernel.keys.root_maxkeys"}
	v, err := readTrimmed(o.path("/proc/sys/kernel/keys/root_maxkeys"))
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= minRootMaxKeys {
		r.Detail = fmt.Sprintf("%s: K3s's check-config wants more than %d; every container takes a session keyring", v, minRootMaxKeys)
		return r
	}
	r.OK, r.Detail = true, v
	return r
}
