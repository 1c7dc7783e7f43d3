package agent

import (
	"bytes"
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/hostcheck"
)

// TestHostCheckStopsK3s boots the initial server on a kernel that shows
// almost nothing (no namespaces, modules, cgroup v2, AppArmor): the
// agent prints one line per missing requirement and a summary, stops with
// an error naming them, keeps the report for `firstboot status`, and never
// queues K3s.
func TestHostCheckStopsK3s(t *testing.T) {
	// No name server in the config: the check must ask none (a unit test
	// sends no packet off this machine).
	cfg := clusterConfig()
	cfg.Cluster.Network = nil
	root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	writeTestFile(t, root, "/proc/sys/kernel/osrelease", "6.1.0-57-cloud-amd64\n")
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	var slept time.Duration
	env.Sleep = func(_ context.Context, d time.Duration) error { slept += d; return nil }
	runner := env.Runner.(*keygenRunnerDouble)
	runner.outputs = maps.Clone(hostOutputs)
	runner.outputs["iptables --version"] = "iptables v1.8.9 (nf_tables)\n"

	err := Run(context.Background(), env)
	if err == nil || !strings.HasPrefix(err.Error(), "step host-check: failed: ") ||
		!strings.Contains(err.Error(), "(CONFIG_NAMESPACES, ") ||
		!strings.HasSuffix(err.Error(), "; K3s is not started (`firstboot status` lists what is missing)") {
		t.Fatalf("err = %v", err)
	}
	printed := out.String()
	for _, want := range []string{
		"firstboot: host-check: missing kernel 6.1.0-57-cloud-amd64: 0 of ",
		"firstboot: host-check: missing cgroup v2: nothing is mounted on /sys/fs/cgroup\n",
		"firstboot: host-check: warning AppArmor: not enabled in the kernel: kubelet refuses pods that ask for an AppArmor profile\n",
		"firstboot: host-check: missing CONFIG_VXLAN: module vxlan is not loaded and there is no /lib/modules/6.1.0-57-cloud-amd64: ",
		"firstboot: host-check: warning resolver: no /etc/resolv.conf: neither K3s nor the node's tools can resolve names\n",
		"firstboot: host-check: failed: ",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
	for _, c := range runner.calls {
		if strings.HasPrefix(c, "systemctl start") {
			t.Errorf("K3s was queued despite the failed check: %q", c)
		}
	}
	if slept != hostcheck.DefaultDNSWait {
		t.Errorf("waited %s for a resolv.conf K3s would take, want %s", slept, hostcheck.DefaultDNSWait)
	}
	rep, err := ReadHostCheck(root)
	if err != nil || rep == nil {
		t.Fatalf("report: %v, %v", rep, err)
	}
	if rep.Passed() || rep.Kernel != "6.1.0-57-cloud-amd64" || !rep.Checked.Equal(testClock) {
		t.Errorf("kept report: %+v", rep)
	}
}

// TestHostCheckNotBooted: a root without a running kernel's /proc (as in
// the other tests of this package) is not checked, and K3s still starts.
func TestHostCheckNotBooted(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	var out bytes.Buffer
	printed := runBoot(t, newTestEnv(root, &out, testClock))
	if want := "firstboot: host-check: no running kernel under the root (no /proc/sys/kernel/osrelease): nothing checked\n"; !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	if rep, err := ReadHostCheck(root); rep != nil || err != nil {
		t.Errorf("report %v, %v; want none", rep, err)
	}
}

// TestJoinServerName is the name the resolver checks look up.
func TestJoinServerName(t *testing.T) {
	for _, tc := range []struct {
		server, appServer string
		init              bool
		want              string
	}{
		{"https://k3s-api.site.test:6443", "", false, "k3s-api.site.test"},
		{"https://10.0.0.10:6443", "", false, ""},
		{"https://[2001:db8::10]:6443", "", false, ""},
		{"https://k3s-api.site.test:6443", "", true, ""},
		{"https://10.0.0.10:6443", "https://other.site.test:6443", false, "other.site.test"},
		{"", "", false, ""},
	} {
		env := &Env{ClusterInit: tc.init}
		env.Config.Cluster = clusterConfig().Cluster
		env.Config.Cluster.Server = tc.server
		env.Cloud.Appliance.Server = tc.appServer
		if got := joinServerName(env); got != tc.want {
			t.Errorf("server %q, appliance.server %q, init %v: %q, want %q", tc.server, tc.appServer, tc.init, got, tc.want)
		}
	}
}
