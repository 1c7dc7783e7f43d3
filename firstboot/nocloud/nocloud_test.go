package nocloud

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// mtoolsMounterDouble is a test double for Mounter: instead of mount(2) it
// copies a vfat image's files into the mount point with mcopy, and records
// what it was asked to do.
type mtoolsMounterDouble struct {
	mounted   []string
	unmounted []string
}

func (m *mtoolsMounterDouble) MountReadOnly(device, dir, fstype string) error {
	if fstype != FSVFAT {
		return errors.New("mtoolsMounterDouble mounts vfat only, got " + fstype)
	}
	if out, err := exec.Command("mcopy", "-s", "-i", device, "::*", dir).CombinedOutput(); err != nil {
		return errors.New("mcopy: " + err.Error() + ": " + string(out))
	}
	m.mounted = append(m.mounted, device+" "+fstype)
	return nil
}

func (m *mtoolsMounterDouble) Unmount(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	m.unmounted = append(m.unmounted, dir)
	return nil
}

func TestLoad(t *testing.T) {
	img := filepath.Join(t.TempDir(), "seed.img")
	makeVFAT(t, img, "CIDATA", "1024", nil, map[string]string{
		"meta-data": "instance-id: iid-42\nlocal-hostname: meta-name\npublic-keys: []\n",
		"user-data": "#cloud-config\nhostname: node-9\nssh_authorized_keys: [ssh-ed25519 AAAA ops@x]\nappliance: {role: agent}\npackages: [htop]\n",
	})
	root := fakeBlockRoot(t, map[string]string{"vdb": img})
	mounter := &mtoolsMounterDouble{}

	seed, err := Load(Options{Root: root, Mounter: mounter})
	if err != nil {
		t.Fatal(err)
	}
	want := Seed{
		Device: Device{Name: "vdb", Path: "/dev/vdb", FSType: FSVFAT, Label: "CIDATA"},
		Meta:   MetaData{InstanceID: "iid-42", LocalHostname: "meta-name"},
		User:   UserData{Hostname: "node-9", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA ops@x"}, Role: "agent"},
		Warnings: []string{
			`meta-data line 3: key "public-keys" is not supported yet, ignored`,
			`user-data line 5: key "packages" is not supported yet, ignored`,
		},
	}
	if !reflect.DeepEqual(seed, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", seed, want)
	}
	if got := []string{filepath.Join(root, "dev/vdb") + " vfat"}; !reflect.DeepEqual(mounter.mounted, got) {
		t.Errorf("mounted %q, want %q", mounter.mounted, got)
	}
	if len(mounter.unmounted) != 1 {
		t.Errorf("unmounted %q, want one unmount", mounter.unmounted)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "run", "firstboot-cidata-*")); len(left) != 0 {
		t.Errorf("mount points left behind: %q", left)
	}
}

func TestLoadMissingFiles(t *testing.T) {
	img := filepath.Join(t.TempDir(), "seed.img")
	makeVFAT(t, img, "cidata", "1024", nil, map[string]string{"user-data": "#cloud-config\nhostname: n\n"})
	root := fakeBlockRoot(t, map[string]string{"sr0": img})
	seed, err := Load(Options{Root: root, Mounter: &mtoolsMounterDouble{}})
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{"meta-data: missing on /dev/sr0, treated as empty"}
	if !reflect.DeepEqual(seed.Warnings, wantWarnings) || seed.User.Hostname != "n" {
		t.Errorf("Load = %+v, want warnings %q and hostname n", seed, wantWarnings)
	}
}

func TestLoadErrors(t *testing.T) {
	img := filepath.Join(t.TempDir(), "seed.img")
	makeVFAT(t, img, "CIDATA", "1024", nil, map[string]string{"user-data": "#cloud-config\nappliance: {role: boss}\n"})
	root := fakeBlockRoot(t, map[string]string{"vdb": img})
	_, err := Load(Options{Root: root, Mounter: &mtoolsMounterDouble{}})
	want := `seed /dev/vdb: user-data line 2: appliance.role: want "server" or "agent", got "boss"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := Load(Options{Root: fakeBlockRoot(t, map[string]string{}), Mounter: &mtoolsMounterDouble{}}); !errors.Is(err, ErrNoSeed) {
		t.Errorf("err = %v, want ErrNoSeed", err)
	}
}
