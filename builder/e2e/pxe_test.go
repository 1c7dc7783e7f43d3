package e2e

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/netns"

	"github.com/ml-appliance/appliance/internal/bootserver"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// The PXE test's isolated network: a bridge and a tap in a namespace of
// its own. No address outside it is used.
const (
	pxeBridge   = "pxebr0"
	pxeTap      = "pxetap0"
	pxeServerIP = "10.213.9.1"
	pxeRange    = "10.213.9.100-10.213.9.150"
	// pxeBundleEnv names the bundle directory to TestHelperPXEBootServer.
	pxeBundleEnv = "E2E_PXE_BUNDLE"
	// pxeFaultsEnv makes the boot server truncate its first OS image
	// download and corrupt its second.
	pxeFaultsEnv = "E2E_PXE_FAULTS"
)

// TestHelperPXEBootServer is not a test: TestPXEBootsAgent runs the test
// binary inside its network namespace with this test selected, so that
// every socket the boot server opens (TFTP opens one per transfer) is there.
func TestHelperPXEBootServer(t *testing.T) {
	bundle := os.Getenv(pxeBundleEnv)
	if bundle == "" {
		t.Skip("helper process for TestPXEBootsAgent")
	}
	rng, err := bootserver.ParseRange(pxeRange)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bootserver.Start(bootserver.Options{
		Dir: bundle, Interface: pxeBridge, DHCP: bootserver.FullDHCP, Range: rng,
		Router: netip.MustParseAddr(pxeServerIP),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		WrapHTTP: func(h http.Handler) http.Handler {
			if os.Getenv(pxeFaultsEnv) == "" {
				return h
			}
			return &faultyBundle{next: h}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx); err != nil {
		t.Fatal(err)
	}
}

// faultyBundle is the boot server's HTTP handler with three faults: the
// first request for the kernel gets a 503 (iPXE's script retries), the
// first OS image download stops after 8 MiB (the connection is cut, the
// Content-Length promised the whole image), the second has one byte
// flipped (the init retries both). Later requests are served as they are.
type faultyBundle struct {
	next          http.Handler
	mu            sync.Mutex
	kernels, gets int
}

func (f *faultyBundle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	var kernels, gets int
	if r.Method == http.MethodGet {
		switch r.URL.Path {
		case "/vmlinuz":
			f.kernels++
			kernels = f.kernels
		case "/os.squashfs":
			f.gets++
			gets = f.gets
		}
	}
	f.mu.Unlock()
	if kernels == 1 {
		fmt.Fprintln(os.Stderr, "fault: 503 for this kernel request")
		http.Error(w, "fault injected by the test", http.StatusServiceUnavailable)
		return
	}
	switch gets {
	case 1:
		fmt.Fprintln(os.Stderr, "fault: truncating this download after 8 MiB")
		f.next.ServeHTTP(&cutWriter{ResponseWriter: w, left: 8 << 20}, r)
	case 2:
		fmt.Fprintln(os.Stderr, "fault: flipping byte 1048576 of this download")
		f.next.ServeHTTP(&flipWriter{ResponseWriter: w, at: 1 << 20}, r)
	default:
		f.next.ServeHTTP(w, r)
	}
}

// cutWriter passes left bytes of the body, then aborts the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) >= c.left {
		c.ResponseWriter.Write(p[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

// flipWriter inverts the body's byte at offset at.
type flipWriter struct {
	http.ResponseWriter
	at, off int
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if i := f.at - f.off; i >= 0 && i < len(p) {
		p = append([]byte(nil), p...)
		p[i] ^= 0xff
	}
	f.off += len(p)
	return f.ResponseWriter.Write(p)
}

// TestPXEBootsAgent builds configs/single-node.yaml with only the PXE
// bundle, state on a local disk, and netboots VMs from it: in a network
// namespace with a bridge and a tap, the boot server answers DHCP (full
// mode) and HTTP; QEMU's own iPXE ROM for virtio-net (under SeaBIOS, then
// under OVMF) loads boot.ipxe, the kernel and initrd; the init gets an
// address by DHCP, downloads and verifies the OS image into RAM, and the
// node, whose MAC the inventory does not list, gets the agent's node
// config and reaches the end of firstboot as an agent.
//
//  1. SeaBIOS, an empty disk: the first download is cut short and the
//     second corrupted, each refused and retried; the init partitions and
//     formats the disk for state.
//  2. OVMF, no disk: no state disk to be had, so state falls back to RAM.
//  3. SeaBIOS again with the first VM's disk: the STATE partition is
//     reused and firstboot takes its recorded role.
func TestPXEBootsAgent(t *testing.T) {
	needNetnsVMs(t)
	t.Parallel()
	work := t.TempDir()
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		withCloudKernel(t)(doc)
		doc["outputs"] = map[string]any{"pxe": map[string]any{"state": map[string]any{"device": "auto"}}}
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	bundle := filepath.Join(out, "pxe")
	for _, f := range []string{"boot.ipxe", "vmlinuz", "initrd", "os.squashfs", "os.squashfs.sha256", "nodes/agent.yaml", "nodes/server.yaml", "nodes/node-1.yaml"} {
		if _, err := os.Stat(filepath.Join(bundle, f)); err != nil {
			t.Fatalf("bundle: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "single-node.raw")); err == nil {
		t.Errorf("outputs: {pxe: {}} also made a raw image")
	}
	digest := strings.Fields(readFile(t, filepath.Join(bundle, "os.squashfs.sha256")))[0]

	ns := pxeNetns(t)
	serverLog := startPXEServer(t, ns, bundle)

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("boot server log:\n%s", serverLog.String())
		}
	})
	disk := filepath.Join(work, "state-disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 2<<30); err != nil {
		t.Fatal(err)
	}
	ok := t.Run("SeaBIOS: new state disk, faulty downloads", func(t *testing.T) {
		vm, vmStart := pxeStart(t, ns, false, disk)
		// iPXE's script got a 503 for the kernel and tried again.
		// The fault handler answers the 503 itself, so the server's request
		// log has only the 200; the fault says so on its own line.
		kernel := regexp.MustCompile(`fault: (503) for this kernel request|path=/vmlinuz status=(\d+)`)
		for deadline := time.Now().Add(bootTimeout); ; time.Sleep(time.Second) {
			var statuses []string
			for _, m := range kernel.FindAllStringSubmatch(serverLog.String(), -1) {
				statuses = append(statuses, m[1]+m[2])
			}
			if strings.Join(statuses, " ") == "503 200" {
				t.Log("iPXE: kernel request 1 got 503, request 2 got 200")
				break
			}
			if time.Now().After(deadline) || len(statuses) > 2 || (len(statuses) == 2 && statuses[1] != "200") {
				t.Fatalf("kernel requests got %q, want a 503 then a 200", statuses)
			}
		}
		get := `^appliance-init: GET http://` + pxeServerIP + `:8080/os\.squashfs `
		for _, retry := range []string{
			`failed: (truncated: \d+ of \d+ bytes|after \d+ bytes).*; retry 2/10 in 1s$`,
			`failed: SHA-256 mismatch: got [0-9a-f]{64}, want ` + digest + ` \(\d+ bytes\); retry 3/10 in 2s$`,
		} {
			line, _ := expect(t, vm, get+retry, 0, bootTimeout)
			t.Log(line)
		}
		expect(t, vm, `^appliance-init: \S+: 10\.213\.9\.\d+/24$`, 0, bootTimeout)
		expect(t, vm, `^appliance-init: \S+: default route via `+pxeServerIP+`$`, 0, bootTimeout)
		pxeExpectImage(t, vm, digest)
		expect(t, vm, `^appliance-init: state: made /dev/vda1, a STATE partition spanning /dev/vda$`, 0, bootTimeout)
		line, _ := expect(t, vm, `^appliance-init: state: formatted /dev/vda1 \(ext4, label STATE\) in `, 0, bootTimeout)
		t.Log(line)
		expect(t, vm, `^appliance-init: STATE /dev/vda1 mounted on /run/appliance/state$`, 0, bootTimeout)
		pxeExpectDone(t, vm, vmStart)
	})
	t.Run("OVMF: no disk, state in RAM", func(t *testing.T) {
		vm, vmStart := pxeStart(t, ns, true, "")
		pxeExpectImage(t, vm, digest)
		expect(t, vm, `^appliance-init: state: no state disk \(auto\): no empty non-removable disk`, 0, bootTimeout)
		expect(t, vm, `^appliance-init: state in RAM`, 0, bootTimeout)
		pxeExpectDone(t, vm, vmStart)
	})
	if !ok {
		return
	}
	t.Run("SeaBIOS: state disk reused", func(t *testing.T) {
		vm, vmStart := pxeStart(t, ns, false, disk)
		pxeExpectImage(t, vm, digest)
		expect(t, vm, `^appliance-init: state: using /dev/vda1 \(STATE partition of /dev/vda\)$`, 0, bootTimeout)
		expect(t, vm, consoleLine+`firstboot: role=agent hostname=single-node-123456 \(recorded\)$`, 0, bootTimeout)
		pxeExpectDone(t, vm, vmStart)
	})
}

// needNetnsVMs skips a test that boots VMs in a network namespace under
// -short, and fails it without root. Fail, not skip: `make test` runs as
// root (it installs packages), and a skipped boot test reported as passing
// would hide a broken netboot.
func needNetnsVMs(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots VMs")
	}
	if os.Getuid() != 0 {
		t.Fatal("needs root for a network namespace: run as root, or with -short")
	}
}

// pxeStart netboots a VM in ns under SeaBIOS or OVMF, with disk (a raw
// image file) attached unless it is "".
func pxeStart(t *testing.T, ns string, uefi bool, disk string) (*vmtest.VM, time.Time) {
	t.Helper()
	opts := vmtest.Options{
		UEFI: uefi, MemoryMiB: 2048,
		Extra: []string{
			"-netdev", "tap,id=n0,ifname=" + pxeTap + ",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,bootindex=0",
		},
		Console: consoleLog(t),
	}
	if disk != "" {
		opts.Disks = []string{disk}
	}
	vm := startInNetns(t, ns, opts)
	start := time.Now()
	if uefi {
		expect(t, vm, `\] efi: EFI v\d`, 0, bootTimeout)
	}
	return vm, start
}

// startInNetns starts a VM in ns; it is killed at the (sub)test's cleanup,
// so a later subtest can reuse its disk.
func startInNetns(t *testing.T, ns string, opts vmtest.Options) *vmtest.VM {
	t.Helper()
	var vm *vmtest.VM
	err := netns.Do(ns, func() error {
		var err error
		// QEMU is forked from this thread, so it runs in the namespace.
		vm, err = vmtest.Start(t.Context(), t.TempDir(), opts)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return vm
}

// pxeExpectImage waits for the OS image's download and check.
func pxeExpectImage(t *testing.T, vm *vmtest.VM, digest string) {
	t.Helper()
	line, _ := expect(t, vm, `^appliance-init: OS image: \d+ bytes, sha256 `+digest+` verified$`, 0, bootTimeout)
	t.Log(line)
	expect(t, vm, `^appliance-init: OS image http://\S+ attached to /dev/loop\d+$`, 0, bootTimeout)
}

// pxeExpectDone waits for the node config from the bundle and firstboot's end.
func pxeExpectDone(t *testing.T, vm *vmtest.VM, vmStart time.Time) {
	t.Helper()
	expect(t, vm, consoleLine+`firstboot: load-config: kernel command line firstboot\.config=nodes/agent\.yaml \(http://`+pxeServerIP+`:8080/nodes/agent\.yaml\), instance-id `, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=agent hostname=single-node-123456$`, 0, bootTimeout)
	t.Logf("firstboot done %.1fs after QEMU started", time.Since(vmStart).Seconds())
}

// pxeNetns makes a namespace with a bridge (the server's address) and a
// tap for QEMU on it.
func pxeNetns(t *testing.T) string {
	t.Helper()
	return bridgeNetns(t, pxeServerIP+"/24", pxeTap)
}

// netnsCount numbers the namespaces bridgeNetns makes.
var netnsCount atomic.Int32

// bridgeNetns makes a namespace with a bridge, with address cidr unless it
// is "", and the taps on it.
func bridgeNetns(t *testing.T, cidr string, taps ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("needs ip: install the Debian package iproute2")
	}
	// Tests run in parallel: each namespace its own name.
	ns := fmt.Sprintf("e2e-pxe-%d-%d", os.Getpid(), netnsCount.Add(1))
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	cmds := [][]string{{"link", "set", "lo", "up"}, {"link", "add", pxeBridge, "type", "bridge"}}
	for _, tap := range taps {
		cmds = append(cmds, []string{"tuntap", "add", "dev", tap, "mode", "tap"}, []string{"link", "set", tap, "master", pxeBridge}, []string{"link", "set", tap, "up"})
	}
	if cidr != "" {
		cmds = append(cmds, []string{"addr", "add", cidr, "dev", pxeBridge})
	}
	cmds = append(cmds, []string{"link", "set", pxeBridge, "up"})
	for _, args := range cmds {
		run(t, "ip", append([]string{"-n", ns}, args...)...)
	}
	return ns
}

// startPXEServer runs the boot server in ns (this test binary, helper
// mode) and waits until it is ready; it is stopped at cleanup.
func startPXEServer(t *testing.T, ns, bundle string) *syncBuffer {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperPXEBootServer$", "-test.v")
	cmd.Env = append(os.Environ(), pxeBundleEnv+"="+bundle, pxeFaultsEnv+"=1")
	logs := &syncBuffer{ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	select {
	case <-logs.ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("boot server not ready after 30s:\n%s", logs.String())
	}
	return logs
}

// syncBuffer collects a process's output and closes ready at the boot
// server's "boot server ready" line.
type syncBuffer struct {
	mu    sync.Mutex
	b     strings.Builder
	ready chan struct{}
	once  sync.Once
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	sc := bufio.NewScanner(strings.NewReader(s.b.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "boot server ready") {
			s.once.Do(func() { close(s.ready) })
		}
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
