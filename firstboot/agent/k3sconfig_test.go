package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// clusterConfig is testConfig with K3s cluster settings and static
// addresses, as the builder bakes them for a K3s site.
func clusterConfig() nodeconfig.Config {
	c := testConfig
	c.Nodes = []nodeconfig.Node{
		{Hostname: "ctrl-1", MAC: "52:54:00:00:00:01", Role: nodeconfig.RoleServer, Init: true, Address: "10.0.0.10/24", Labels: []string{"zone=a"}},
		{Hostname: "ctrl-2", MAC: "52:54:00:00:00:02", Role: nodeconfig.RoleServer, Address: "10.0.0.11/24"},
	}
	c.Cluster = &nodeconfig.Cluster{
		Server: "https://10.0.0.10:6443", Token: true, CA: true, TLSSAN: []string{"ml-lab.internal"},
		Network: &nodeconfig.Network{Gateway: "10.0.0.1", DNS: []string{"10.0.0.1"}},
	}
	return c
}

// withK3s adds what the builder bakes for K3s (the binary, the CA's
// certificates and the registries template) and the secrets the
// cluster-secrets step installs from the site's secrets volume on STATE,
// all of them as a server gets them.
func withK3s(t *testing.T, root string) {
	writeTestFile(t, root, payload.K3sBinaryPath, "#!/bin/sh\n")
	writeTestFile(t, root, nodeconfig.TokenPath, "SECRET-TOKEN-VALUE\n")
	writeTestFile(t, root, nodeconfig.JoinTokenPath, "K10abc::server:SECRET-TOKEN-VALUE\n")
	writeTestFile(t, root, nodeconfig.AgentTokenPath, "AGENT-TOKEN-VALUE\n")
	writeTestFile(t, root, nodeconfig.AgentJoinTokenPath, "K10abc::node:AGENT-TOKEN-VALUE\n")
	writeTestFile(t, root, nodeconfig.CAKeyDir+"/server-ca.key", "SERVER CA KEY\n")
	writeTestFile(t, root, nodeconfig.CADir+"/server-ca.crt", "SERVER CA CERT\n")
	writeTestFile(t, root, nodeconfig.CADir+"/etcd/peer-ca.crt", "PEER CA CERT\n")
	if err := os.Chmod(filepath.Join(root, nodeconfig.CADir, "server-ca.crt"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, root, payload.RegistriesTemplate, "mirrors:\n  docker.io:\n")
}

func runBoot(t *testing.T, env *Env) string {
	t.Helper()
	if err := Run(context.Background(), env); err != nil {
		t.Fatalf("boot: %v\n%s", err, env.Out.(*bytes.Buffer).String())
	}
	return env.Out.(*bytes.Buffer).String()
}

func TestK3sInitialServer(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	printed := runBoot(t, env)
	for _, want := range []string{
		"firstboot: role=server cluster-init (inventory entry ctrl-1 matches MAC 52:54:00:00:00:01)\n",
		"firstboot: network: 1 systemd-networkd files from inventory entry ctrl-1\n",
		"firstboot: k3s-identity: installed the site's cluster CA (2 certificates, 1 keys) in /var/lib/rancher/k3s/server/tls\n",
		"firstboot: k3s-config: /etc/rancher/k3s/config.yaml: server, cluster-init, token file /var/lib/appliance/cluster/token, agent token file /var/lib/appliance/cluster/agent-token, node-ip 10.0.0.10, embedded registry\n",
		"firstboot: k3s-start: k3s.service queued; it starts when firstboot finishes\n",
		"firstboot: k3s-start: platform bring-up queued (firstboot-platform.service); `firstboot status` shows its progress\n",
		"firstboot: done role=server hostname=ctrl-1\n",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
	if strings.Contains(printed, "SECRET-TOKEN-VALUE") {
		t.Errorf("the token was printed:\n%s", printed)
	}
	snap := snapshot(t, root)
	cfg := snap["etc/rancher/k3s/config.yaml"]
	if !strings.HasPrefix(cfg, "-rw------- ") {
		t.Errorf("config.yaml mode: %q", cfg)
	}
	for _, want := range []string{"cluster-init: true\n", "token-file: /var/lib/appliance/cluster/token\n",
		"agent-token-file: /var/lib/appliance/cluster/agent-token\n", "node-name: ctrl-1\n",
		"node-ip: 10.0.0.10\n", "embedded-registry: true\n", "  - zone=a\n", "  - ml-lab.internal\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "\nserver:") {
		t.Errorf("the initial server's config names a server to join:\n%s", cfg)
	}
	if got := snap["var/lib/rancher/k3s/server/tls/server-ca.crt"]; got != "-rw------- SERVER CA CERT\n" {
		t.Errorf("server CA = %q", got)
	}
	if got := snap["var/lib/rancher/k3s/server/tls/etcd/peer-ca.crt"]; got != "-rw-r--r-- PEER CA CERT\n" {
		t.Errorf("etcd peer CA = %q", got)
	}
	calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n")
	for _, want := range []string{"systemctl start --no-block k3s.service", "systemctl start --no-block firstboot-platform.service"} {
		if !strings.Contains(calls, want) {
			t.Errorf("commands lack %q:\n%s", want, calls)
		}
	}

	// A later boot after K3s ran: its CAs are never replaced.
	writeTestFile(t, root, "/var/lib/rancher/k3s/server/tls/server-ca.crt", "K3S OWN\n")
	if err := os.Remove(filepath.Join(root, StateDir, "steps", "k3s-identity.json")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	printed = runBoot(t, newTestEnv(root, &out, testClock))
	if !strings.Contains(printed, "k3s-identity: /var/lib/rancher/k3s/server/tls already has the cluster's CAs, left as they are") {
		t.Errorf("output:\n%s", printed)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "var/lib/rancher/k3s/server/tls/server-ca.crt")); string(data) != "K3S OWN\n" {
		t.Errorf("K3s's own CA was replaced: %q", data)
	}
}

func TestK3sAgentJoins(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
	withK3s(t, root)
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	printed := runBoot(t, env)
	if want := "firstboot: k3s-config: /etc/rancher/k3s/config.yaml: agent, server https://10.0.0.10:6443, token file /var/lib/appliance/cluster/agent-join-token\n"; !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	snap := snapshot(t, root)
	cfg := snap["etc/rancher/k3s/config.yaml"]
	for _, bad := range []string{"cluster-init", "embedded-registry", "tls-san"} {
		if strings.Contains(cfg, bad) {
			t.Errorf("agent config has server key %s:\n%s", bad, cfg)
		}
	}
	for p := range snap {
		if strings.HasPrefix(p, "var/lib/rancher/k3s/server") {
			t.Errorf("an agent got server files: %s", p)
		}
	}
	calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n")
	if !strings.Contains(calls, "systemctl start --no-block k3s-agent.service") || strings.Contains(calls, "firstboot-platform") {
		t.Errorf("agent started:\n%s", calls)
	}
}

func TestK3sTokenFromCloudConfig(t *testing.T) {
	cfg := clusterConfig()
	cfg.Cluster.Token = false
	root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
	withK3s(t, root)
	addSeed(t, root, map[string]string{"user-data": "#cloud-config\nappliance:\n  role: server\n  server: https://10.0.0.11:6443\n  token: CLOUD-TOKEN-0123456789\n"})
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Mounter = mtoolsMounterDouble{}
	printed := runBoot(t, env)
	if strings.Contains(printed, "CLOUD-TOKEN") {
		t.Errorf("the token was printed:\n%s", printed)
	}
	if want := "k3s-config: /etc/rancher/k3s/config.yaml: server, server https://10.0.0.11:6443, token from the cloud-config"; !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	got := snapshot(t, root)["etc/rancher/k3s/config.yaml"]
	if !strings.HasPrefix(got, "-rw------- ") || !strings.Contains(got, "token: CLOUD-TOKEN-0123456789\n") {
		t.Errorf("config.yaml = %q", got)
	}
}

func TestK3sNoToken(t *testing.T) {
	cfg := clusterConfig()
	cfg.Cluster.Token = false
	root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
	withK3s(t, root)
	var out bytes.Buffer
	err := Run(context.Background(), newTestEnv(root, &out, testClock))
	want := "step k3s-config: no cluster token: the site has none (cluster.token) and the cloud-config gives no appliance.token"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestDefaultRouteFallback(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	writeTestFile(t, root, waitOnline, "")
	for _, tc := range []struct {
		name    string
		outputs map[string]string
		wantRun string
		wantOut string
	}{
		{
			name:    "a default route exists",
			wantRun: "/usr/lib/systemd/systemd-networkd-wait-online --any --timeout=30",
			outputs: map[string]string{"ip -4 route show default": "default via 10.0.0.1 dev eth0 proto static\n"},
			wantOut: "default-route: default via 10.0.0.1 dev eth0 proto static",
		},
		{
			name:    "isolated network",
			outputs: map[string]string{"ip -4 -o addr show scope global": "2: eth0    inet 10.0.0.10/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"},
			wantRun: "ip -4 route add default dev eth0 metric 4096",
			wantOut: "default-route: none on this network; added an on-link default route on eth0 (10.0.0.10/24), metric 4096, for K3s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			env := newTestEnv(root, &out, testClock)
			runner := &keygenRunnerDouble{outputs: tc.outputs}
			env.Runner = runner
			if err := defaultRoute(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("printed %q, want %q", out.String(), tc.wantOut)
			}
			calls := strings.Join(runner.calls, "\n")
			if tc.wantRun != "" && !strings.Contains(calls, tc.wantRun) {
				t.Errorf("commands lack %q:\n%s", tc.wantRun, calls)
			}
			if !strings.Contains(tc.wantRun, "route add") && strings.Contains(calls, "route add") {
				t.Errorf("added a route with one present:\n%s", calls)
			}
		})
	}
	t.Run("no address ever", func(t *testing.T) {
		var out bytes.Buffer
		env := newTestEnv(root, &out, testClock)
		env.Runner = &keygenRunnerDouble{}
		var slept time.Duration
		env.Sleep = func(_ context.Context, d time.Duration) error { slept += d; return nil }
		if err := defaultRoute(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if want := "default-route: warning: no global IPv4 address after 1m30s"; !strings.Contains(out.String(), want) || slept != 90*time.Second {
			t.Errorf("printed %q after sleeping %s, want %q after 1m30s", out.String(), slept, want)
		}
	})
}

// TestInventoryAddressWithoutClusterNetwork: an inventory address is
// applied on its own when the node config has no cluster network (a site
// without K3s has no cluster section at all).
func TestInventoryAddressWithoutClusterNetwork(t *testing.T) {
	cfg := clusterConfig()
	cfg.Cluster = nil
	root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:00:00:02"}})
	var out bytes.Buffer
	runBoot(t, newTestEnv(root, &out, testClock))
	got := snapshot(t, root)["etc/systemd/network/10-cloud-config-inventory.network"]
	if !strings.Contains(got, "Address=10.0.0.11/24") || strings.Contains(got, "Gateway=") {
		t.Errorf("inventory network file = %q, want the address and no gateway", got)
	}
}

func TestPXEServerOnTheInitialServerOnly(t *testing.T) {
	for _, c := range []struct {
		mac, want string
		queued    bool
	}{
		{"52:54:00:00:00:01", "firstboot: pxe-server: appliance-pxe.service queued: workers netboot from this node\n", true},
		{"52:54:00:00:00:02", "firstboot: pxe-server: this image carries a PXE bundle; the initial server serves it, not this node\n", false},
	} {
		root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": c.mac}})
		withK3s(t, root)
		writeTestFile(t, root, payload.PXEDir+"/"+payload.PXEServeConfigFile, `{"dhcp":"proxy"}`)
		env := newTestEnv(root, &bytes.Buffer{}, testClock)
		printed := runBoot(t, env)
		if !strings.Contains(printed, c.want) {
			t.Errorf("%s: output lacks %q:\n%s", c.mac, c.want, printed)
		}
		calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n")
		if got := strings.Contains(calls, "systemctl start --no-block appliance-pxe.service"); got != c.queued {
			t.Errorf("%s: PXE server queued %v, want %v:\n%s", c.mac, got, c.queued, calls)
		}
	}
	// Without the bundle in the image, the step says nothing.
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	if printed := runBoot(t, newTestEnv(root, &bytes.Buffer{}, testClock)); strings.Contains(printed, "pxe-server") {
		t.Errorf("no bundle, yet:\n%s", printed)
	}
}

// TestCloudConfigLabelsReplaceInventoryLabels: the cloud-config's labels
// and taints replace the inventory entry's of the same key (taints: key and
// effect); both would reach K3s otherwise, and K3s refuses a taint's key
// and effect given twice.
func TestCloudConfigLabelsReplaceInventoryLabels(t *testing.T) {
	cfg := clusterConfig()
	cfg.Nodes[0].Labels = []string{"zone=a", "rack=r1"}
	cfg.Nodes[0].Taints = []string{"gpu=true:NoSchedule"}
	root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	addSeed(t, root, map[string]string{"user-data": "#cloud-config\nappliance:\n  node_labels: [zone=b]\n  node_taints: ['gpu=false:NoSchedule']\n"})
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Mounter = mtoolsMounterDouble{}
	runBoot(t, env)
	got := snapshot(t, root)["etc/rancher/k3s/config.yaml"]
	for _, want := range []string{"node-label:\n  - rack=r1\n  - zone=b\n", "node-taint:\n  - gpu=false:NoSchedule\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, got)
		}
	}
}
