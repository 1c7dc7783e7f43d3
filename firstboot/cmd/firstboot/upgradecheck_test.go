package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// TestUpgradeCheckCmd: on a netbooted node the command says there is
// nothing to check; its timeouts are flags.
func TestUpgradeCheckCmd(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "proc/cmdline"), "appliance.os=url:http://10.0.0.1/os.squashfs appliance.os.sha256=00\n")
	cmd := newUpgradeCheckCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--root", root, "--k3s-timeout", "90s", "--no-reboot"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "firstboot: upgrade: not booted from a disk slot (booted from the network or live): nothing to check\n" {
		t.Errorf("printed %q", got)
	}
	if got := cmd.Flag("k3s-timeout").Value.String(); got != "1m30s" {
		t.Errorf("--k3s-timeout = %s", got)
	}
}

// TestStatusRelease: `firstboot status` has the release line, and its
// JSON the upgrade record.
func TestStatusRelease(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "proc/cmdline"), "appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.slot=a\n")
	writeFile(t, filepath.Join(root, "proc/sys/kernel/random/boot_id"), "boot-1\n")
	release, err := upgradebundle.MarshalRelease(upgradebundle.Release{Site: "lab", SiteID: upgradebundle.SiteID("s"), Version: "2.0.0", KernelVersion: "6.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, upgradebundle.ReleasePath), string(release))
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"status", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	if want := "\nrelease: 2.0.0 (slot a) [the upgrade check has not run yet]\n"; !strings.Contains(stdout.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"status", "--root", root, "--output", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	var rep statusReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Upgrade == nil || rep.Upgrade.Running.Slot != "a" || rep.Upgrade.Running.Release != "2.0.0" {
		t.Errorf("status JSON upgrade = %+v", rep.Upgrade)
	}
	writeFile(t, filepath.Join(root, "proc/cmdline"), "appliance.slot=c\n")
	stdout.Reset()
	if code := run(context.Background(), []string{"status", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("a bad command line fails status: code %d: %s", code, stderr.String())
	}
	if want := "\nrelease: not known: "; !strings.Contains(stdout.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, stdout.String())
	}
}
