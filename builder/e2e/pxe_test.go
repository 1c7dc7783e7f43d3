package e2e

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/netns"

	"github.com/ml-appliance/appliance/builder/bootserver"
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
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
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

// TestPXEBootsAgent builds configs/single-node.yaml with only the PXE
// bundle and netboots VMs from it: in a network namespace with a bridge
// and a tap, the boot server answers DHCP (full mode) and HTTP; QEMU's own
// iPXE ROM for virtio-net (under SeaBIOS, then under OVMF) loads boot.ipxe,
// the kernel and initrd; the init gets an address by DHCP, downloads and
// verifies the OS image into RAM, and the node, whose MAC the inventory
// does not list, reaches the end of firstboot as an agent.
func TestPXEBootsAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	if os.Getuid() != 0 {
		// Fail, not skip: `make test` runs as root (it installs packages),
		// and a skipped boot test reported as passing would hide a broken
		// netboot. `go test -short` leaves VM tests out.
		t.Fatal("needs root for a network namespace: run as root, or with -short")
	}
	work := t.TempDir()
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		withCloudKernel(t)(doc)
		doc["outputs"] = map[string]any{"pxe": map[string]any{}}
	})
	out := filepath.Join(work, "out")
	start := time.Now()
	build(t, config, out)
	t.Logf("build: %.1fs", time.Since(start).Seconds())
	bundle := filepath.Join(out, "pxe")
	for _, f := range []string{"boot.ipxe", "vmlinuz", "initrd", "os.squashfs", "os.squashfs.sha256"} {
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
	for _, uefi := range []bool{false, true} {
		name := map[bool]string{false: "SeaBIOS", true: "OVMF"}[uefi]
		t.Run(name, func(t *testing.T) { pxeBoot(t, ns, uefi, digest) })
	}
}

// pxeBoot netboots a VM in ns under SeaBIOS or OVMF and waits for
// firstboot's end.
func pxeBoot(t *testing.T, ns string, uefi bool, digest string) {
	var vm *vmtest.VM
	err := netns.Do(ns, func() error {
		var err error
		// QEMU is forked from this thread, so it runs in the namespace.
		vm, err = vmtest.Start(t.Context(), t.TempDir(), vmtest.Options{
			UEFI: uefi, MemoryMiB: 2048,
			Extra: []string{
				"-netdev", "tap,id=n0,ifname=" + pxeTap + ",script=no,downscript=no",
				"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,bootindex=0",
			},
			Console: consoleLog(t),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	vmStart := time.Now()
	if uefi {
		expect(t, vm, `\] efi: EFI v\d`, 0, bootTimeout)
	}
	expect(t, vm, `^appliance-init: GET http://`+pxeServerIP+`:8080/os\.squashfs \(attempt 1/`, 0, bootTimeout)
	fetchStart := time.Since(vmStart)
	line, _ := expect(t, vm, `^appliance-init: OS image: \d+ bytes, sha256 `+digest+` verified$`, 0, bootTimeout)
	fetched := time.Since(vmStart)
	expect(t, vm, `^appliance-init: OS image http://\S+ attached to /dev/loop\d+$`, 0, bootTimeout)
	expect(t, vm, `^appliance-init: state in RAM`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=agent hostname=single-node-123456$`, 0, bootTimeout)
	t.Logf("%s; download started %.1fs, verified %.1fs, firstboot done %.1fs after QEMU started",
		line, fetchStart.Seconds(), fetched.Seconds(), time.Since(vmStart).Seconds())
}

// pxeNetns makes a namespace with a bridge (the server's address) and a
// tap for QEMU on it.
func pxeNetns(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("needs ip: install the Debian package iproute2")
	}
	ns := fmt.Sprintf("e2e-pxe-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", pxeBridge, "type", "bridge"},
		{"tuntap", "add", "dev", pxeTap, "mode", "tap"},
		{"link", "set", pxeTap, "master", pxeBridge},
		{"addr", "add", pxeServerIP + "/24", "dev", pxeBridge},
		{"link", "set", pxeTap, "up"},
		{"link", "set", pxeBridge, "up"},
	} {
		run(t, "ip", append([]string{"-n", ns}, args...)...)
	}
	return ns
}

// startPXEServer runs the boot server in ns (this test binary, helper
// mode) and waits until it is ready; it is stopped at cleanup.
func startPXEServer(t *testing.T, ns, bundle string) *syncBuffer {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperPXEBootServer$", "-test.v")
	cmd.Env = append(os.Environ(), pxeBundleEnv+"="+bundle)
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
