package nocloud

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
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
	if err := clearDir(dir); err != nil {
		return err
	}
	m.unmounted = append(m.unmounted, dir)
	return nil
}

// clearDir removes what a Mounter double put into a mount point.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func TestLoad(t *testing.T) {
	const (
		metaData      = "instance-id: iid-42\nlocal-hostname: meta-name\n"
		userData      = "#cloud-config\nhostname: node-9\nappliance: {role: boss}\n"
		networkConfig = "network:\n  version: 2\n"
	)
	img := filepath.Join(t.TempDir(), "seed.img")
	makeVFAT(t, img, "CIDATA", "1024", nil, map[string]string{
		"meta-data": metaData, "user-data": userData, "network-config": networkConfig, "vendor-data": "#cloud-config\n",
	})
	root := fakeBlockRoot(t, map[string]string{"vdb": img})
	mounter := &mtoolsMounterDouble{}

	seed, err := Load(Options{Root: root, Mounter: mounter})
	if err != nil {
		t.Fatal(err)
	}
	// Load does not parse: a bad appliance.role is the caller's to report.
	want := Seed{
		Device:        Device{Name: "vdb", Path: "/dev/vdb", FSType: FSVFAT, Label: "CIDATA"},
		MetaData:      []byte(metaData),
		UserData:      []byte(userData),
		NetworkConfig: []byte(networkConfig),
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
	makeVFAT(t, img, "cidata", "1024", nil, map[string]string{"user-data": ""})
	root := fakeBlockRoot(t, map[string]string{"sr0": img})
	seed, err := Load(Options{Root: root, Mounter: &mtoolsMounterDouble{}})
	if err != nil {
		t.Fatal(err)
	}
	want := Seed{
		Device:   Device{Name: "sr0", Path: "/dev/sr0", FSType: FSVFAT, Label: "cidata"},
		UserData: []byte{},
		Warnings: []string{"meta-data: missing on /dev/sr0, treated as empty"},
	}
	if !reflect.DeepEqual(seed, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", seed, want)
	}
	if seed.MetaData != nil || seed.NetworkConfig != nil || seed.UserData == nil {
		t.Errorf("missing files must be nil and an empty user-data non-nil: %+v", seed)
	}
}

// failingMounter refuses every mount.
type failingMounter struct{}

func (failingMounter) MountReadOnly(device, dir, fstype string) error {
	return errors.New("operation not permitted")
}

func (failingMounter) Unmount(dir string) error { return errors.New("not mounted") }

func TestLoadErrors(t *testing.T) {
	img := filepath.Join(t.TempDir(), "seed.img")
	makeVFAT(t, img, "CIDATA", "1024", nil, nil)
	root := fakeBlockRoot(t, map[string]string{"vdb": img})
	_, err := Load(Options{Root: root, Mounter: failingMounter{}})
	wantPrefix := "mount seed " + filepath.Join(root, "dev/vdb") + " (vfat) on " + filepath.Join(root, "run", "firstboot-cidata-")
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.HasSuffix(err.Error(), ": operation not permitted") {
		t.Errorf("err = %v, want %q...: operation not permitted", err, wantPrefix)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "run", "firstboot-cidata-*")); len(left) != 0 {
		t.Errorf("mount points left behind: %q", left)
	}
	if _, err := Load(Options{Root: fakeBlockRoot(t, map[string]string{}), Mounter: &mtoolsMounterDouble{}}); !errors.Is(err, ErrNoSeed) {
		t.Errorf("err = %v, want ErrNoSeed", err)
	}
}
