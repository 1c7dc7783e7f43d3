package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mtoolsMounterDouble is a test double for nocloud.Mounter: it copies the
// files of a vfat image into the mount point with mcopy instead of mounting.
type mtoolsMounterDouble struct{}

func (mtoolsMounterDouble) MountReadOnly(device, dir, fstype string) error {
	if out, err := exec.Command("mcopy", "-s", "-i", device, "::*", dir).CombinedOutput(); err != nil {
		return errors.New("mcopy: " + err.Error() + ": " + string(out))
	}
	return nil
}

func (mtoolsMounterDouble) Unmount(dir string) error {
	entries, err := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return err
}

// addSeed attaches a CIDATA vfat seed (made with mkfs.vfat and mcopy) to
// root as /dev/vdb.
func addSeed(t *testing.T, root string, files map[string]string) {
	t.Helper()
	img := filepath.Join(root, "dev/vdb")
	if err := os.MkdirAll(filepath.Dir(img), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.vfat", "-C", "-n", "CIDATA", img, "1024").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v\n%s", err, out)
	}
	src := t.TempDir()
	for name, content := range files {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mcopy", "-i", img, p, "::"+name).CombinedOutput(); err != nil {
			t.Fatalf("mcopy: %v\n%s", err, out)
		}
	}
	writeTestFile(t, root, "/sys/class/block/vdb/size", strconv.Itoa(1024*2)+"\n")
}

// seedUserData exercises every step that applies cloud-config.
const seedUserData = `#cloud-config
hostname: gpu-7
appliance: {role: agent, node_labels: [gpu=true]}
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3Nza ops@example
  - ssh-ed25519 BBBB dev@example
users:
  - name: ops
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys: [ssh-ed25519 CCCC ops@laptop]
write_files:
  - path: /etc/motd.d/site
    content: welcome to gpu-7
    owner: ops:ops
bootcmd:
  - echo early
runcmd:
  - [touch, /var/tmp/ran]
timezone: Europe/Berlin
manage_etc_hosts: true
`

const seedNetwork = `network:
  version: 2
  ethernets:
    lan:
      match: {macaddress: "52:54:00:00:00:01"}
      addresses: [192.168.50.7/24]
`

// withAccounts adds the account files ApplyUsers edits.
func withAccounts(t *testing.T, root string) {
	writeTestFile(t, root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
	writeTestFile(t, root, "/etc/group", "root:x:0:\nsudo:x:27:\n")
	writeTestFile(t, root, "/etc/shadow", "root:*:19000:0:99999:7:::\n")
	writeTestFile(t, root, "/etc/gshadow", "root:*::\nsudo:*::\n")
	writeTestFile(t, root, "/bin/bash", "")
	writeTestFile(t, root, "/usr/share/zoneinfo/Europe/Berlin", "TZif2 (test)\n")
}

func TestRunWithSeed(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig, nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withAccounts(t, root)
	addSeed(t, root, map[string]string{
		"meta-data":      "instance-id: iid-7\nlocal-hostname: from-meta\n",
		"user-data":      seedUserData,
		"network-config": seedNetwork,
	})
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Mounter = mtoolsMounterDouble{}
	var kernelHostname []string
	env.SetHostname = func(name string) error { kernelHostname = append(kernelHostname, name); return nil }
	if err := Run(context.Background(), env); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := `firstboot: load-config: node config /etc/appliance/node.yaml: site ml-lab, default role agent, 2 inventory entries
firstboot: load-config: NoCloud seed /dev/vdb (vfat, label CIDATA), instance-id iid-7
firstboot: load-config: warning: NoCloud seed /dev/vdb (vfat, label CIDATA) user-data line 20: key "manage_etc_hosts" is not supported, ignored
firstboot: role=agent (user-data appliance.role)
firstboot: hostname=gpu-7 (user-data hostname)
firstboot: grow-state: nothing mounted at /run/appliance/state (state in RAM), nothing to grow
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_ed25519_key SHA256:fake-ssh_host_ed25519_key.pub
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_rsa_key SHA256:fake-ssh_host_rsa_key.pub
firstboot: hostname: gpu-7
firstboot: bootcmd: bootcmd[0] echo early: ok
firstboot: network: 1 systemd-networkd files from NoCloud seed /dev/vdb (vfat, label CIDATA) network-config
firstboot: resolv-conf: warning: no systemd-resolved in this base OS and no name server in the network config: the node has no resolver (a DHCP lease's name servers are used only through systemd-resolved)
firstboot: time: timezone Europe/Berlin
firstboot: users: ops
firstboot: authorized-keys: 2 keys for root
firstboot: write-files: 1 files
firstboot: k3s-images: no /usr/lib/appliance/k3s/images in this image (no K3s)
firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)
firstboot: k3s-config: no K3s in this image, nothing to configure or start
firstboot: runcmd: runcmd[0] touch /var/tmp/ran: ok
firstboot: first-boot: this is the first boot (2026-03-01T10:00:00Z)
firstboot: done role=agent hostname=gpu-7
`
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	if len(kernelHostname) != 1 || kernelHostname[0] != "gpu-7" {
		t.Errorf("kernel hostname set to %q, want [gpu-7]", kernelHostname)
	}
	snap := snapshot(t, root)
	for path, want := range map[string]string{
		"root/.ssh/authorized_keys":                       "-rw------- ssh-ed25519 AAAAC3Nza ops@example\nssh-ed25519 BBBB dev@example\n",
		"home/ops/.ssh/authorized_keys":                   "-rw------- ssh-ed25519 CCCC ops@laptop\n",
		"etc/motd.d/site":                                 "-rw-r--r-- welcome to gpu-7",
		"etc/systemd/network/10-cloud-config-lan.network": "",
		"etc/sudoers.d/90-cloud-init-users":               "",
	} {
		got, ok := snap[path]
		if !ok || (want != "" && got != want) {
			t.Errorf("%s = %q (present %v), want %q", path, got, ok, want)
		}
	}
	if !strings.Contains(snap["etc/systemd/network/10-cloud-config-lan.network"], "Address=192.168.50.7/24") {
		t.Errorf("network file lacks the seed's address: %q", snap["etc/systemd/network/10-cloud-config-lan.network"])
	}
	calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n")
	for _, want := range []string{"sh -c echo early", "touch /var/tmp/ran", "networkctl reload"} {
		if !strings.Contains(calls, want) {
			t.Errorf("commands run lack %q:\n%s", want, calls)
		}
	}
}

// TestRunSeedErrorKeepsNodeReachable: a bad user-data is reported with its
// source and line; nothing of the seed is applied (no hostname, users or
// network), but STATE, the SSH host keys and the baked authorized keys
// are, so the node answers SSH; the boot then fails.
func TestRunSeedErrorKeepsNodeReachable(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig, nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withAccounts(t, root)
	addSeed(t, root, map[string]string{
		"user-data":      "#cloud-config\nhostname: gpu-7\nusers:\n  - name: ops\n    lock_passwd: maybe\n",
		"network-config": seedNetwork,
	})
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Mounter = mtoolsMounterDouble{}
	err := Run(context.Background(), env)
	if !errors.Is(err, errConfig) {
		t.Fatalf("err = %v, want errConfig", err)
	}
	want := `firstboot: load-config: node config /etc/appliance/node.yaml: site ml-lab, default role agent, 2 inventory entries
firstboot: error: NoCloud seed /dev/vdb (vfat, label CIDATA) user-data line 5: users[0].lock_passwd: want true or false, got "maybe"
firstboot: grow-state: nothing mounted at /run/appliance/state (state in RAM), nothing to grow
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_ed25519_key SHA256:fake-ssh_host_ed25519_key.pub
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_rsa_key SHA256:fake-ssh_host_rsa_key.pub
firstboot: authorized-keys: 1 keys for root
`
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	snap := snapshot(t, root)
	for p := range snap {
		if strings.HasPrefix(p, "home/") || strings.HasPrefix(p, "etc/systemd/network/") || p == "etc/hostname" ||
			strings.HasPrefix(p, "var/lib/appliance/firstboot/steps/decide-role") {
			t.Errorf("a config with an error was applied: %s", p)
		}
	}
	if got := snap["root/.ssh/authorized_keys"]; got != "-rw------- ssh-ed25519 AAAAC3Nza ops@example\n" {
		t.Errorf("authorized_keys = %q, want the baked key only", got)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a/b/file")
	for _, content := range []string{"one\n", "two\n"} {
		if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		info, _ := os.Stat(path)
		if err != nil || string(got) != content || info.Mode().Perm() != 0o600 {
			t.Errorf("after writing %q: %q, %v, mode %v", content, got, err, info.Mode())
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("dir holds %v (err %v), want only the file", entries, err)
	}
}
