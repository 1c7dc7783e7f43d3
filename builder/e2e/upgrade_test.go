package e2e

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ml-appliance/appliance/internal/k3sstandin/standinbuild"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// upgradeMarker is a file the test writes on STATE (/var is persistent)
// before the first upgrade: every later boot must still have it.
const upgradeMarker = "/var/lib/appliance-test-marker"

// v3Failure is what v3's K3s stand-in says at every start.
const v3Failure = "broken on purpose (upgrade test v3)"

// TestUpgradeAppliesFallsBackAndSurvivesPowerCut builds three releases of
// one site (configs/single-node.yaml with the K3s stand-in, a TEST DOUBLE
// of K3s, and no platform) into one cluster identity and signing key:
// v1, v2 (another overlay file, another stand-in version) and v3 (its
// stand-in refuses to start, as a K3s that cannot start does). It boots
// v1's raw disk under OVMF as the initial server, keeps a marker on STATE,
// and over SSH, with the bundles served over HTTP from the host:
//
//  1. applies v2 with --reboot: the next boot runs v2 in slot b, the boot
//     check blesses its entry, STATE is kept;
//  2. applies v3 with --reboot: v3 boots in slot a, its K3s check fails,
//     the check marks slot a bad and reboots, and the machine comes back
//     in v2 by itself, the console and `firstboot status` saying why 3.0.0
//     was rejected;
//  3. applies v2 again and cuts the power while slot a's partition is
//     being written (the server holds os.squashfs half sent): the machine
//     boots v2 in slot b, and the next apply succeeds.
//
// It logs what the lead reports: each build's time, the bundle's size,
// the time to upgrade the node (apply, reboot, checks) and the console
// lines of the rollback.
func TestUpgradeAppliesFallsBackAndSurvivesPowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("boots VMs")
	}
	t.Parallel()
	began := time.Now()
	work := t.TempDir()
	signer, authorizedKey := sshKey(t)
	_, airgap := k3sStandIn(t, work)
	v1 := buildUpgradeRelease(t, work, releaseSpec{version: "1.0.0",
		standIn: standinbuild.Options{Version: "v1.36.2+k3s1-standin.1"}}, airgap, authorizedKey, "")
	// Later releases of the site: the same cluster identity and signing key.
	secrets := filepath.Join(v1.out, "secrets")
	v2 := buildUpgradeRelease(t, work, releaseSpec{version: "2.0.0",
		standIn: standinbuild.Options{Version: "v1.36.3+k3s1-standin.2"}}, airgap, authorizedKey, secrets)
	v3 := buildUpgradeRelease(t, work, releaseSpec{version: "3.0.0",
		standIn: standinbuild.Options{Version: "v1.36.3+k3s1-standin.3", FailStart: v3Failure}}, airgap, authorizedKey, secrets)
	t.Logf("three releases built in %.1fs", time.Since(began).Seconds())

	node := &upgradeNode{disk: filepath.Join(work, "disk.raw"), port: freePort(t), signer: signer,
		bundles: newBundleServer(t, v2, v3)}
	run(t, "cp", "--sparse=always", filepath.Join(v1.out, "single-node.raw"), node.disk)
	start := time.Now()
	vm := node.boot(t)
	expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	line, _ := expect(t, vm, consoleLine+`firstboot: upgrade: release: 1\.0\.0 \(slot a\)`, 0, bootTimeout)
	t.Logf("v1: firstboot done %.1fs after QEMU started; console: %s", time.Since(start).Seconds(), line)
	node.ssh(t, "echo kept > "+upgradeMarker+" && sync")
	checkRunning(t, node, "a", v1)

	t.Log("step 1: apply v2 with --reboot")
	upgradeAndBless(t, node, v1, v2)
	t.Log("step 2: apply v3, whose K3s does not start, with --reboot")
	rollBack(t, node, v3, v2)
	t.Log("step 3: cut the power while v2 is written to slot a")
	powerCut(t, node, v2)
	t.Logf("the whole test took %.1fs", time.Since(began).Seconds())
}

// upgradeAndBless applies to, on node running from, with --reboot, boots
// the node again after the reboot and checks it runs to in slot b, its
// entry blessed, STATE kept. It logs how long the apply, the reboot and
// the boot checks took.
func upgradeAndBless(t *testing.T, node *upgradeNode, from, to upgradeRelease) {
	t.Helper()
	began := time.Now()
	applied := applyWithReboot(t, node, to, "b")
	vm := node.boot(t)
	_, done := expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	booted := time.Now()
	// K3s is the new image's: its stand-in reports the new version.
	expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): server `+regexp.QuoteMeta(to.k3sVersion)+`: API double for node node-1 `, 0, bootTimeout)
	bless, _ := expect(t, vm, consoleLine+`firstboot: upgrade: slot b \(`+regexp.QuoteMeta(to.version)+`\) passed its checks; blessed`, done, bootTimeout)
	checked := time.Now()
	t.Logf("upgrade %s -> %s: apply %.1fs, reboot to firstboot done %.1fs, boot checks %.1fs: %.1fs in all",
		from.version, to.version, applied.Sub(began).Seconds(), booted.Sub(applied).Seconds(), checked.Sub(booted).Seconds(), checked.Sub(began).Seconds())
	logUpgradeLines(t, vm, "the boot of "+to.version)
	t.Logf("bless line: %s", bless)
	checkRunning(t, node, "b", to)
	entries := espEntries(t, node)
	for _, want := range []string{"appliance-a.conf\n", "appliance-b.conf\n"} {
		if !strings.Contains(entries, want) {
			t.Errorf("after the check blessed slot b, the ESP's loader entries lack %s:\n%s", strings.TrimSpace(want), entries)
		}
	}
	if strings.Contains(entries, "appliance-b+") {
		t.Errorf("slot b's entry still counts boots after its check passed:\n%s", entries)
	}
}

// applyWithReboot runs `firstboot upgrade apply URL --reboot` for r on
// node, expecting it to write slot, and waits for the reboot (-no-reboot:
// QEMU exits). It returns when the apply said it reboots.
func applyWithReboot(t *testing.T, node *upgradeNode, r upgradeRelease, slot string) time.Time {
	t.Helper()
	var rebooting time.Time
	began := time.Now()
	out, err := node.stream("firstboot upgrade apply "+node.bundles.url(r.version)+" --reboot", func(l string) {
		t.Logf("  apply +%.1fs: %s", time.Since(began).Seconds(), l)
		if strings.HasPrefix(l, "firstboot: upgrade: rebooting into slot "+slot+" ") {
			rebooting = time.Now()
		}
	})
	var exit *ssh.ExitError
	if errors.As(err, &exit) || rebooting.IsZero() {
		t.Fatalf("firstboot upgrade apply %s --reboot: %v (it should end saying it reboots into slot %s):\n%s", r.version, err, slot, out)
	}
	if err := node.vm.Wait(3 * time.Minute); err != nil {
		t.Fatalf("the node did not reboot after the apply: %v", err)
	}
	return rebooting
}

// rollBack applies bad (whose K3s does not start) to node running good in
// slot b, with --reboot, and checks the node boots bad in slot a, fails
// its K3s check, marks slot a bad and reboots, and comes back in good in
// slot b, saying why bad was rejected. It logs the rollback's console
// lines.
func rollBack(t *testing.T, node *upgradeNode, bad, good upgradeRelease) {
	t.Helper()
	began := time.Now()
	applyWithReboot(t, node, bad, "a")
	vm := node.boot(t)
	expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): error: server refusing to start: `+regexp.QuoteMeta(v3Failure), 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: upgrade: check k3s: failed: `, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: upgrade: slot a \(`+regexp.QuoteMeta(bad.version)+`\) failed its checks: .*; marked bad, rebooting into slot b \(`+regexp.QuoteMeta(good.version)+`\)$`, 0, bootTimeout)
	if err := vm.Wait(3 * time.Minute); err != nil {
		t.Fatalf("the node did not reboot by itself after its failed check: %v", err)
	}
	rejected := time.Now()
	var rollback []string
	shown := regexp.MustCompile(`firstboot: upgrade: |k3s-standin: |Linux version |reboot: `)
	for _, l := range vm.Lines() {
		if shown.MatchString(l) {
			rollback = append(rollback, l)
		}
	}
	t.Logf("console of %s's boot in slot a (rolled back %.1fs after the apply began):\n  %s", bad.version, rejected.Sub(began).Seconds(), strings.Join(rollback, "\n  "))
	if !strings.Contains(strings.Join(rollback, "\n"), "reboot: Restarting system") {
		t.Errorf("the console of the failed boot shows no reboot")
	}

	vm = node.boot(t)
	_, done := expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	line, _ := expect(t, vm, consoleLine+`firstboot: upgrade: running `+regexp.QuoteMeta(good.version)+` in slot b; `+regexp.QuoteMeta(bad.version)+` in slot a was rejected: `, done, bootTimeout)
	t.Logf("back in %s %.1fs after the apply of %s began:\n  %s", good.version, time.Since(began).Seconds(), bad.version, line)
	release := checkRunning(t, node, "b", good)
	if !strings.Contains(release, "slot a: "+bad.version+" rejected: ") || !strings.Contains(release, "k3s") {
		t.Errorf("firstboot status does not say why %s was rejected (its K3s): %s", bad.version, release)
	}
	entries := espEntries(t, node)
	if !regexp.MustCompile(`(?m)^appliance-a\+0-\d+\.conf$`).MatchString(entries) || !strings.Contains(entries, "appliance-b.conf\n") {
		t.Errorf("after the rollback, want slot a's entry marked bad and slot b's blessed:\n%s", entries)
	}
}

// powerCut applies r to node (running r in slot b) and kills QEMU while
// the node writes slot a's partition: the bundle server sends half of
// os.squashfs and holds the rest. The node must boot r in slot b again,
// say so on the console, and then apply r in full.
func powerCut(t *testing.T, node *upgradeNode, r upgradeRelease) {
	t.Helper()
	stalled := node.bundles.stall(r.osImage.Size / 2)
	writing := make(chan string, 1)
	type result struct {
		out string
		err error
	}
	ended := make(chan result, 1)
	go func() {
		out, err := node.stream("firstboot upgrade apply "+node.bundles.url(r.version), func(l string) {
			if strings.HasPrefix(l, "firstboot: upgrade: writing slot a ") {
				select {
				case writing <- l:
				default:
				}
			}
		})
		ended <- result{out, err}
	}()
	var line string
	select {
	case line = <-writing:
	case res := <-ended:
		t.Fatalf("the apply ended before it wrote slot a: %v\n%s", res.err, res.out)
	case <-time.After(3 * time.Minute):
		t.Fatal("the apply did not start writing slot a within 3 minutes")
	}
	select {
	case <-stalled:
	case <-time.After(3 * time.Minute):
		t.Fatal("the node did not fetch half of os.squashfs within 3 minutes")
	}
	wrote := waitApplyWrote(t, node, r.osImage.Size/4)
	node.vm.Kill()
	res := <-ended
	if res.err == nil {
		t.Fatalf("the apply finished although the power was cut:\n%s", res.out)
	}
	t.Logf("power cut after %q, with %s of os.squashfs sent and %s written by the apply; it said:\n%s",
		line, mib(r.osImage.Size/2), mib(wrote), res.out)

	vm := node.boot(t)
	_, done := expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	line, _ = expect(t, vm, consoleLine+`firstboot: upgrade: release: `+regexp.QuoteMeta(r.version)+` \(slot b\); slot a: empty: an apply of `+regexp.QuoteMeta(r.version)+` was cut short`, done, bootTimeout)
	t.Logf("after the power cut the node boots slot b; console: %s", line)
	checkRunning(t, node, "b", r)
	if entries := espEntries(t, node); strings.Contains(entries, "appliance-a") {
		t.Errorf("slot a, cut while written, has a loader entry:\n%s", entries)
	}

	began := time.Now()
	out, err := node.stream("firstboot upgrade apply "+node.bundles.url(r.version), func(string) {})
	if err != nil {
		t.Fatalf("the apply after the power cut: %v\n%s", err, out)
	}
	t.Logf("the apply after the power cut took %.1fs:\n%s", time.Since(began).Seconds(), out)
	if !strings.Contains(out, "firstboot: upgrade: loader entry appliance-a+3.conf written") {
		t.Errorf("the apply after the power cut did not write slot a's entry on trial")
	}
	if entries := espEntries(t, node); !strings.Contains(entries, "appliance-a+3.conf\n") {
		t.Errorf("after the apply, the ESP lacks appliance-a+3.conf:\n%s", entries)
	}
	if got := node.ssh(t, "firstboot status"); !strings.Contains(got, "slot a: "+r.version+" boots next, on trial") {
		t.Errorf("firstboot status after the apply does not say slot a boots next:\n%s", got)
	}
}

// waitApplyWrote waits until the running `firstboot upgrade apply` on
// node has written at least min bytes (its write(2) count, wchar in
// /proc/PID/io) and returns the count.
func waitApplyWrote(t *testing.T, node *upgradeNode, min int64) int64 {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		last = strings.TrimSpace(node.ssh(t, `p=$(pgrep -f '^firstboot upgrade apply ') && sed -n 's/^wchar: //p' "/proc/$p/io"`))
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil {
			t.Fatalf("the apply's write count: %q: %v", last, err)
		}
		if n >= min {
			return n
		}
	}
	t.Fatalf("the apply wrote %s bytes in a minute, want %d before the power cut", last, min)
	return 0
}

// logUpgradeLines logs the boot's "firstboot: upgrade: " console lines.
func logUpgradeLines(t *testing.T, vm *vmtest.VM, what string) {
	t.Helper()
	var lines []string
	for _, l := range vm.Lines() {
		if strings.Contains(l, "firstboot: upgrade: ") {
			lines = append(lines, l)
		}
	}
	t.Logf("console of %s:\n  %s", what, strings.Join(lines, "\n  "))
}

// checkRunning checks over SSH what the node runs: the slot on its kernel
// command line, the release its image describes, that release's overlay
// file, the marker on STATE and `firstboot status`'s release line. It
// returns the release line.
func checkRunning(t *testing.T, node *upgradeNode, slot string, r upgradeRelease) string {
	t.Helper()
	got := node.ssh(t, "cat /proc/cmdline /usr/lib/appliance/release.json "+upgradeOverlayFile+"; "+
		"cat "+upgradeMarker+" 2>&1; k3s --version; firstboot status")
	if !regexp.MustCompile(`(^|\s)appliance\.slot=` + slot + `(\s|$)`).MatchString(got) {
		t.Errorf("the node's kernel command line does not say slot %s:\n%s", slot, got)
	}
	for _, want := range []string{`"version": "` + r.version + `"`,
		upgradeOverlayContent(r.version), "\nkept\n", "k3s version " + r.k3sVersion + " (test double, not K3s)\n",
		"\nrelease: " + r.version + " (slot " + slot} {
		if !strings.Contains(got, want) {
			t.Errorf("on the node (slot %s, %s), lacks %q:\n%s", slot, r.version, want, got)
		}
	}
	line := regexp.MustCompile(`(?m)^release: .*$`).FindString(got)
	t.Logf("firstboot status: %s", line)
	return line
}

// espEntries lists the ESP's loader entries on the node.
func espEntries(t *testing.T, node *upgradeNode) string {
	t.Helper()
	return node.ssh(t, `d=$(mktemp -d) && mount -o ro /dev/disk/by-partlabel/ESP "$d" && ls "$d/loader/entries"; umount "$d"`)
}
