package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

func TestRunWithSeed(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig, nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	addSeed(t, root, map[string]string{
		"meta-data": "instance-id: iid-7\nlocal-hostname: from-meta\n",
		"user-data": "#cloud-config\nhostname: gpu-7\nappliance: {role: agent}\n" +
			"ssh_authorized_keys:\n  - ssh-ed25519 AAAAC3Nza ops@example\n  - ssh-ed25519 BBBB dev@example\nwrite_files: []\n",
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
firstboot: load-config: NoCloud seed on /dev/vdb (vfat, label CIDATA), instance-id iid-7
firstboot: load-config: warning: user-data line 7: key "write_files" is not supported yet, ignored
firstboot: role=agent (user-data appliance.role)
firstboot: hostname=gpu-7 (user-data hostname)
firstboot: grow-state: nothing mounted at /run/appliance/state (state in RAM), nothing to grow
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_ed25519_key SHA256:fake-ssh_host_ed25519_key.pub
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_rsa_key SHA256:fake-ssh_host_rsa_key.pub
firstboot: hostname: gpu-7
firstboot: authorized-keys: 2 keys for root
firstboot: k3s-images: no /usr/lib/appliance/k3s/images in this image (no K3s)
firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)
firstboot: first-boot: this is the first boot (2026-03-01T10:00:00Z)
firstboot: done role=agent hostname=gpu-7
`
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	if len(kernelHostname) != 1 || kernelHostname[0] != "gpu-7" {
		t.Errorf("kernel hostname set to %q, want [gpu-7]", kernelHostname)
	}
	keys, err := os.ReadFile(filepath.Join(root, "root/.ssh/authorized_keys"))
	if wantKeys := "ssh-ed25519 AAAAC3Nza ops@example\nssh-ed25519 BBBB dev@example\n"; err != nil || string(keys) != wantKeys {
		t.Errorf("authorized_keys = %q, %v; want %q", keys, err, wantKeys)
	}
}

func TestRunSeedError(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig, nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	addSeed(t, root, map[string]string{"user-data": "#cloud-config\nappliance: {role: boss}\n"})
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Mounter = mtoolsMounterDouble{}
	err := Run(context.Background(), env)
	want := `step load-config: NoCloud seed: seed /dev/vdb: user-data line 2: appliance.role: want "server" or "agent", got "boss"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
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
