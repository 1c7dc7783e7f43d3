package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testassets"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// consoleLine starts a pattern for a line a service printed on the serial
// console: at the start of a line, or after a login prompt the getty printed
// without a newline ("node-1 login: firstboot: done ...").
const consoleLine = `(^|login: )`

// k3sStandIn builds the k3s test double (internal/k3sstandin: not K3s; it
// records the config it was started with and says so on the console) and a
// placeholder airgap archive, since real K3s cannot be downloaded here.
func k3sStandIn(t *testing.T, dir string) (binary, airgap string) {
	t.Helper()
	binary = filepath.Join(dir, "k3s-standin")
	c := exec.Command("go", "build", "-trimpath", "-o", binary, "./internal/k3sstandin")
	c.Dir = testassets.RepoRoot()
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build k3s stand-in: %v\n%s", err, out)
	}
	tarFile := filepath.Join(dir, "k3s-airgap-images-amd64.tar")
	if err := os.WriteFile(tarFile, make([]byte, 10240), 0o644); err != nil { // an empty tar
		t.Fatal(err)
	}
	run(t, "zstd", "-q", "-f", "--rm", tarFile)
	return binary, tarFile + ".zst"
}

// withStandInK3s returns a site edit for boot tests of K3s roles: the
// cloud kernel, and the K3s test double built into dir.
func withStandInK3s(t *testing.T, dir string) func(doc map[string]any) {
	t.Helper()
	binary, airgap := k3sStandIn(t, dir)
	cloud := withCloudKernel(t)
	return func(doc map[string]any) {
		cloud(doc)
		doc["k3s"] = map[string]any{"binary": binary, "airgap": airgap}
	}
}

// seedDisk makes a NoCloud seed: an iso9660 filesystem labelled cidata
// holding meta-data and user-data, attached as a plain disk.
func seedDisk(t *testing.T, dir, metaData, userData string) string {
	t.Helper()
	src := filepath.Join(dir, "seed")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"meta-data": metaData, "user-data": userData} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "seed.iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", "cidata", "-J", "-r", "-o", iso, src)
	return iso
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sshBanner connects to 127.0.0.1:port until sshd greets, or timeout.
func sshBanner(port int, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return strings.TrimSpace(line), nil
			}
			err = fmt.Errorf("read banner: %q, %v", line, rerr)
		}
		last = err
		time.Sleep(2 * time.Second)
	}
	return "", fmt.Errorf("no SSH banner on 127.0.0.1:%d after %s: %v", port, timeout, last)
}

// TestClusterRolesWithStandInK3s builds one image with the K3s stand-in and
// boots it three times, as three machines:
//   - the inventory's initial server: firstboot writes a cluster-init
//     config and starts the k3s unit, the stand-in reports what it got;
//   - a machine the inventory does not list: an agent that dials the
//     site's server with the token;
//   - an agent with a NoCloud seed whose user-data is invalid: the console
//     names the file and line, nothing of it is applied, K3s is not started,
//     and SSH answers.
func TestClusterRolesWithStandInK3s(t *testing.T) {
	if testing.Short() {
		t.Skip("boots VMs")
	}
	t.Parallel()
	work := t.TempDir()
	standIn := withStandInK3s(t, work)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		standIn(doc)
		doc["cluster"].(map[string]any)["server"] = "https://10.0.2.15:6443"
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	raw := filepath.Join(out, "single-node.raw")

	t.Run("initial server", func(t *testing.T) {
		vm := bootCopy(t, raw, "52:54:00:00:00:01", nil)
		expect(t, vm, consoleLine+`firstboot: role=server cluster-init \(.*inventory`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: cluster-secrets: partition SECRETS \(/dev/vda4\): installed 9 of its 9 files in /var/lib/appliance/cluster for role server `, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: cluster-secrets: wiped partition SECRETS \(/dev/vda4\)`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: k3s-config: .*cluster-init`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
		line, _ := expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): server started with `, 0, bootTimeout)
		for _, want := range []string{"cluster-init=true", "token-file=/var/lib/appliance/cluster/token",
			"agent-token-file=/var/lib/appliance/cluster/agent-token", "node-name=node-1"} {
			if !strings.Contains(line, want) {
				t.Errorf("stand-in K3s server config lacks %s: %q", want, line)
			}
		}
		vm.Kill()
	})
	t.Run("agent", func(t *testing.T) {
		vm := bootCopy(t, raw, "52:54:00:12:34:56", nil)
		expect(t, vm, consoleLine+`firstboot: role=agent \(.*default role`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: cluster-secrets: partition SECRETS \(/dev/vda4\): installed 1 of its 9 files in /var/lib/appliance/cluster for role agent \(agent-join-token\)$`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: cluster-secrets: wiped partition SECRETS \(/dev/vda4\)`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: done role=agent hostname=single-node-123456$`, 0, bootTimeout)
		line, _ := expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): agent started with `, 0, bootTimeout)
		for _, want := range []string{"server=https://10.0.2.15:6443", "token-file=/var/lib/appliance/cluster/agent-join-token"} {
			if !strings.Contains(line, want) {
				t.Errorf("stand-in K3s agent config lacks %s: %q", want, line)
			}
		}
		if strings.Contains(line, "cluster-init") {
			t.Errorf("an agent got cluster-init: %q", line)
		}
		vm.Kill()
	})
	t.Run("bad seed keeps SSH", func(t *testing.T) {
		seed := seedDisk(t, t.TempDir(), "instance-id: bad-seed\n",
			"#cloud-config\nhostname: worker-7\nusers:\n  - name: ops\n    lock_passwd: maybe\n")
		port := freePort(t)
		vm := bootCopy(t, raw, "52:54:00:12:34:57", &bootExtra{disks: []string{seed}, sshPort: port})
		expect(t, vm, consoleLine+`firstboot: error: .*user-data line 5: users\[0\]\.lock_passwd`, 0, bootTimeout)
		banner, err := sshBanner(port, 3*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sshd answers with a bad seed: %s", banner)
		checkKeysOnly(t, port)
		for _, l := range vm.Lines() {
			if strings.Contains(l, "hostname: worker-7") || strings.Contains(l, "k3s-standin:") || strings.Contains(l, "firstboot: done") {
				t.Errorf("a config with an error was acted on: %q", l)
			}
		}
		vm.Kill()
	})
}

type bootExtra struct {
	disks   []string
	sshPort int
}

// bootCopy boots a private copy of raw (so each machine has its own STATE)
// with one NIC of the given MAC.
func bootCopy(t *testing.T, raw, mac string, extra *bootExtra) *vmtest.VM {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "disk.raw")
	run(t, "cp", "--sparse=always", raw, disk)
	return bootDisk(t, disk, mac, extra)
}

// bootDisk boots disk itself, as bootCopy boots its copy.
func bootDisk(t *testing.T, disk, mac string, extra *bootExtra) *vmtest.VM {
	t.Helper()
	dir := t.TempDir()
	opts := bootOptions(t, disk, mac)
	if extra != nil {
		opts.Disks = append(opts.Disks, extra.disks...)
		if extra.sshPort != 0 {
			opts.Extra = []string{
				"-netdev", fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", extra.sshPort),
				"-device", "virtio-net-pci,netdev=n0,mac=" + mac,
			}
		}
	}
	vm, err := vmtest.Start(t.Context(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return vm
}
