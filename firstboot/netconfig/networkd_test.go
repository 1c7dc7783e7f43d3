package netconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// systemd-analyze verify refuses .network files ("Failed to prepare
// filename"), so this test asks systemd-networkd itself: it runs the host's
// networkd, in private mount and network namespaces with the rendered files
// bind-mounted on /etc/systemd/network, until it has loaded them, and fails
// on any complaint about them (unknown key, bad value, file ignored). .link
// files are udev's and are not checked here (udevadm is not installed);
// creating bonds and VLANs is not tried (that needs kernel modules).

const networkdPath = "/lib/systemd/systemd-networkd"

// networkdScript runs networkd until it logs "Enumeration completed" (its
// files are loaded by then), at most 10 seconds, and prints its log.
const networkdScript = `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/netif
chown systemd-network:systemd-network /run/systemd/netif
mount --bind "$1" /etc/systemd/network
mount -t sysfs -o ro sysfs /sys
DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/no-bus SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info \
	timeout 10 ` + networkdPath + ` >/run/networkd.log 2>&1 &
pid=$!
i=0
while ! grep -q "` + networkdReady + `" /run/networkd.log && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
kill $pid
wait $pid || true
cat /run/networkd.log
`

const networkdReady = "Enumeration completed"

// complaint matches networkd's messages about a config file: parse problems
// carry "file:line:", a refused file says "ignoring file".
var complaint = regexp.MustCompile(`/etc/systemd/network/\S+:\d+:|ignoring file`)

func TestNetworkdAcceptsRenderedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts systemd-networkd")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare(1) mount and network namespaces")
	}
	for _, need := range []string{networkdPath, "/etc/systemd/network"} {
		if _, err := os.Stat(need); err != nil {
			t.Skipf("needs %s: %v", need, err)
		}
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}

	t.Run("control", func(t *testing.T) {
		t.Parallel()
		// The check must see a bad file, or a pass means nothing.
		bad := []File{{Name: FilePrefix + "bad.network", Content: []byte("[Match]\nName=eth0\n\n[Network]\nDHCPP=yes\n")}}
		if got := networkdComplaints(t, bad); len(got) != 1 || !strings.Contains(got[0], "DHCPP") {
			t.Fatalf("networkd did not report the bad key; complaints %q", got)
		}
	})
	inputs, _ := filepath.Glob("testdata/*.yaml")
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Parse(in, data)
			if err != nil {
				t.Fatal(err)
			}
			files, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := networkdComplaints(t, files); len(got) > 0 {
				t.Errorf("systemd-networkd complains:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

func networkdComplaints(t *testing.T, files []File) []string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", networkdScript, "sh", dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), networkdReady) {
		t.Fatalf("%s: %v; networkd did not log %q:\n%s", cmd, err, networkdReady, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if complaint.MatchString(line) {
			got = append(got, line)
		}
	}
	return got
}
