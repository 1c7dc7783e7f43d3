package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunFirstAndLaterBoot(t *testing.T) {
	root := newRoot(t, fixture{
		config:     testConfig,
		nics:       map[string]string{"ens3": "52:54:00:AB:CD:EF"},
		stateImage: makeExt4(t, 4096, 8192),
	})
	var out bytes.Buffer
	if err := Run(context.Background(), newTestEnv(root, &out, testClock)); err != nil {
		t.Fatalf("first boot: %v\n%s", err, out.String())
	}
	wantFirst := `firstboot: load-config: node config /etc/appliance/node.yaml: site ml-lab, default role agent, 2 inventory entries
firstboot: load-config: no cloud-config (no NoCloud seed, no ds=nocloud or firstboot.config on the kernel command line)
firstboot: role=agent (no inventory entry matches MACs 52:54:00:ab:cd:ef, default role)
firstboot: hostname=ml-lab-abcdef (site ml-lab, MAC 52:54:00:ab:cd:ef)
firstboot: grow-state: /dev/vda4 is 8.0 MiB (was 4.0 MiB)
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_ed25519_key SHA256:fake-ssh_host_ed25519_key.pub
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_rsa_key SHA256:fake-ssh_host_rsa_key.pub
firstboot: hostname: ml-lab-abcdef
firstboot: network: DHCP on every NIC (no network-config, no static address in the inventory)
firstboot: resolv-conf: warning: no systemd-resolved in this base OS and no name server in the network config: the node has no resolver (a DHCP lease's name servers are used only through systemd-resolved)
firstboot: authorized-keys: 1 keys for root
firstboot: k3s-images: no /usr/lib/appliance/k3s/images in this image (no K3s)
firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)
firstboot: k3s-config: no K3s in this image, nothing to configure or start
firstboot: first-boot: this is the first boot (2026-03-01T10:00:00Z)
firstboot: done role=agent hostname=ml-lab-abcdef
`
	if out.String() != wantFirst {
		t.Errorf("first boot printed:\n%s\nwant:\n%s", out.String(), wantFirst)
	}
	first := snapshot(t, root)
	for path, want := range map[string]string{
		"etc/hostname":                                      "-rw-r--r-- ml-lab-abcdef\n",
		"root/.ssh/authorized_keys":                         "-rw------- ssh-ed25519 AAAAC3Nza ops@example\n",
		"root/.ssh":                                         "drwx------",
		"var/lib/appliance/firstboot/first-boot":            "-rw-r--r-- time=2026-03-01T10:00:00Z\nboot_id=3f1c0e52-9d1a-4f1e-8a57-2b3c4d5e6f70\n",
		"var/lib/appliance/ssh/ssh_host_ed25519_key":        "-rw------- PRIVATE boot1\n",
		"var/lib/appliance/ssh/ssh_host_rsa_key.pub":        "-rw-r--r-- ssh-fake PUBLIC-OF-ssh_host_rsa_key\n",
		"var/lib/appliance/firstboot/steps/grow-state.json": "-rw-r--r-- {\n  \"step\": \"grow-state\",\n  \"completed\": \"2026-03-01T10:00:00Z\"\n}\n",
	} {
		if first[path] != want {
			t.Errorf("%s = %q, want %q", path, first[path], want)
		}
	}

	// A later boot: / is fresh again (RAM overlay), /var persists.
	for _, p := range []string{"etc/hostname", "root"} {
		if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	later := testClock.Add(48 * 3600e9)
	env := newTestEnv(root, &out, later)
	if err := Run(context.Background(), env); err != nil {
		t.Fatalf("later boot: %v\n%s", err, out.String())
	}
	wantLater := `firstboot: load-config: node config /etc/appliance/node.yaml: site ml-lab, default role agent, 2 inventory entries
firstboot: load-config: no cloud-config (no NoCloud seed, no ds=nocloud or firstboot.config on the kernel command line)
firstboot: decide-role: already done (2026-03-01T10:00:00Z)
firstboot: role=agent hostname=ml-lab-abcdef (recorded)
firstboot: grow-state: already done (2026-03-01T10:00:00Z)
firstboot: ssh-host-keys: already done (2026-03-01T10:00:00Z)
firstboot: hostname: ml-lab-abcdef
firstboot: network: DHCP on every NIC (no network-config, no static address in the inventory)
firstboot: resolv-conf: warning: no systemd-resolved in this base OS and no name server in the network config: the node has no resolver (a DHCP lease's name servers are used only through systemd-resolved)
firstboot: authorized-keys: 1 keys for root
firstboot: k3s-images: no /usr/lib/appliance/k3s/images in this image (no K3s)
firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)
firstboot: k3s-identity: already done (2026-03-01T10:00:00Z)
firstboot: k3s-config: no K3s in this image, nothing to configure or start
firstboot: runcmd: already done (2026-03-01T10:00:00Z)
firstboot: first-boot: already done (2026-03-01T10:00:00Z)
firstboot: first boot was 2026-03-01T10:00:00Z
firstboot: done role=agent hostname=ml-lab-abcdef
`
	if out.String() != wantLater {
		t.Errorf("later boot printed:\n%s\nwant:\n%s", out.String(), wantLater)
	}
	if calls := env.Runner.(*keygenRunnerDouble).calls; len(calls) != 0 {
		t.Errorf("later boot ran tools: %q", calls)
	}
	if d := diffSnapshots(snapshot(t, root), first); d != "" {
		t.Errorf("end state after later boot differs from first boot:\n%s", d)
	}
}

func TestRunErrors(t *testing.T) {
	t.Run("no node config", func(t *testing.T) {
		root := newRoot(t, fixture{config: testConfig})
		if err := os.Remove(filepath.Join(root, "etc/appliance/node.yaml")); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := Run(context.Background(), newTestEnv(root, &out, testClock))
		want := "step load-config: read node config: open " + root + "/etc/appliance/node.yaml: no such file or directory"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
	t.Run("no role possible", func(t *testing.T) {
		cfg := testConfig
		cfg.DefaultRole = ""
		root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:00:00:99"}})
		var out bytes.Buffer
		err := Run(context.Background(), newTestEnv(root, &out, testClock))
		want := "step decide-role: no inventory entry matches MACs 52:54:00:00:00:99 and the node config has no default role"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
		if strings.Contains(out.String(), "done") {
			t.Errorf("printed a done line after an error:\n%s", out.String())
		}
		if _, err := os.Stat(filepath.Join(root, StateDir, "steps", "decide-role.json")); !os.IsNotExist(err) {
			t.Errorf("failed step recorded: stat err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		root := newRoot(t, fixture{config: testConfig})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out bytes.Buffer
		err := Run(ctx, newTestEnv(root, &out, testClock))
		if want := "step load-config: context canceled"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}
