package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/kernel"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/output/pxe"
	"github.com/ml-appliance/appliance/internal/testassets"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// ipxeTimeout bounds one boot of this test: SeaBIOS, QEMU's iPXE ROM, a
// DHCP lease from QEMU's user network, and the kernel's first lines.
const ipxeTimeout = 2 * time.Minute

// TestIPXEScriptPassesOnlyBundleNodeConfigs runs a bundle's boot.ipxe in
// the real iPXE (QEMU's ROM for virtio-net, under SeaBIOS) after an
// "earlier script" (what a site's DHCP server or a chainloading script may
// do) set the iPXE settings the script reads to values that would inject
// kernel arguments: nodecfg "nodes/agent.yaml init=/bin/sh" and a stale
// nodecfgsum "... init=/bin/sh". iPXE expands a setting inside its token,
// so the kernel would get init=/bin/sh as an argument of its own.
//
//  1. No earlier script, a machine the inventory does not know: the
//     default role's config; the kernel's command line (which the kernel
//     prints) is exactly the bundle's with that config and its digest.
//  2. A machine the inventory knows by MAC: its MAC picks its config, the
//     stale digest is cleared, and the command line is again the bundle's.
//  3. A machine it does not know: the hostile nodecfg is not one of the
//     bundle's configs, so the script says so and never loads the kernel.
//
// Nothing but the test's HTTP server on 127.0.0.1 is reached (QEMU's user
// network maps 10.0.2.2 to it). The bundle's initramfs is not one: the
// kernel panics after printing its command line, which is all this needs.
func TestIPXEScriptPassesOnlyBundleNodeConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("boots VMs")
	}
	t.Parallel()
	work := t.TempDir()
	k, err := kernel.FromDeb(testassets.Path(t, testassets.CloudKernelDeb), filepath.Join(work, "kernel"))
	if err != nil {
		t.Fatal(err)
	}
	in := output.Inputs{
		Name: "ipxe-lab", Kernel: filepath.Join(work, "kernel", k.ImagePath),
		Initramfs: filepath.Join(work, "not-an-initramfs"), OSImage: filepath.Join(work, "os.img"),
		Cmdline: []string{"console=ttyS0,115200", "panic=-1"},
	}
	for _, p := range []string{in.Initramfs, in.OSImage} {
		if err := os.WriteFile(p, []byte("not an image\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const knownMAC = "52:54:00:00:12:01"
	bundle := filepath.Join(work, "pxe")
	layout, err := pxe.Write(context.Background(), bundle, in, pxe.Options{
		Nodes: []pxe.Node{{Hostname: "ctrl-2", MAC: knownMAC, Role: "server"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	earlier := "#!ipxe\n" +
		"set nodecfg nodes/agent.yaml init=/bin/sh\n" +
		"set nodecfgsum firstboot.config.sha256=0 init=/bin/sh\n" +
		"echo earlier: nodecfg [${nodecfg}]\n" +
		"echo earlier: nodecfgsum [${nodecfgsum}]\n" +
		"chain boot.ipxe\n"
	if err := os.WriteFile(filepath.Join(bundle, "earlier.ipxe"), []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	requests := &requestLog{}
	srv := httptest.NewServer(requests.wrap(http.FileServer(http.Dir(bundle))))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://10.0.2.2:" + port + "/"

	// boot netboots a VM with mac from script (its URL is iPXE's
	// ${filename}); from earlier.ipxe, it waits for the settings it sets.
	boot := func(t *testing.T, mac, script string) *vmtest.VM {
		vm, err := vmtest.Start(t.Context(), t.TempDir(), vmtest.Options{
			MemoryMiB: 512,
			Extra: []string{
				"-netdev", "user,id=n0,bootfile=" + base + script,
				"-device", "virtio-net-pci,netdev=n0,bootindex=0,mac=" + mac,
			},
			Console: consoleLog(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(vm.Kill)
		if script == "earlier.ipxe" {
			// (iPXE's console wraps at 80 columns: one setting a line.)
			expect(t, vm, `^earlier: nodecfg \[nodes/agent\.yaml init=/bin/sh\]`, 0, ipxeTimeout)
			expect(t, vm, `^earlier: nodecfgsum \[firstboot\.config\.sha256=0 init=/bin/sh\]`, 0, ipxeTimeout)
		}
		return vm
	}
	// expectCmdline waits for the kernel's own echo of its command line
	// and wants the bundle's, as iPXE expands it with config.
	expectCmdline := func(t *testing.T, vm *vmtest.VM, script, config string) {
		line, _ := expect(t, vm, `Command line: `, 0, ipxeTimeout)
		sum := nodeConfigSHA256(t, filepath.Join(bundle, config))
		want := "initrd=initrd " + strings.NewReplacer("${filename}", base+script, "${nodecfg}", config,
			"${nodecfgsum}", "firstboot.config.sha256="+sum).Replace(layout.Cmdline)
		if got := line[strings.Index(line, "Command line: ")+len("Command line: "):]; strings.TrimSpace(got) != want {
			t.Errorf("kernel command line\n got: %s\nwant: %s", got, want)
		}
	}

	t.Run("unknown MAC, nothing set: the default role's config", func(t *testing.T) {
		expectCmdline(t, boot(t, "52:54:00:00:12:98", "boot.ipxe"), "boot.ipxe", "nodes/agent.yaml")
	})
	t.Run("known MAC: its own config, stale digest cleared", func(t *testing.T) {
		expectCmdline(t, boot(t, knownMAC, "earlier.ipxe"), "earlier.ipxe", "nodes/ctrl-2.yaml")
	})
	t.Run("unknown MAC: hostile nodecfg refused, no kernel", func(t *testing.T) {
		before := requests.count("/vmlinuz") // the earlier boots'
		vm := boot(t, "52:54:00:00:12:99", "earlier.ipxe")
		refused := `^ipxe-lab: not booting with nodecfg nodes/agent\.yaml init=/bin/sh`
		_, i := expect(t, vm, refused, 0, ipxeTimeout)
		expect(t, vm, `^ipxe-lab: it is not one of this bundle's node configs$`, i+1, ipxeTimeout)
		// The retry loop comes back and refuses again.
		expect(t, vm, refused, i+2, ipxeTimeout)
		if got := requests.count("/vmlinuz") - before; got != 0 {
			t.Errorf("the kernel was requested %d times", got)
		}
		for _, l := range vm.Lines() {
			if strings.Contains(l, "Linux version") || strings.Contains(l, "Command line:") {
				t.Errorf("a kernel started: %s", l)
			}
		}
	})
}

// nodeConfigSHA256 is the digest of a node config in the bundle.
func nodeConfigSHA256(t *testing.T, path string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(readFile(t, path)))
	return hex.EncodeToString(sum[:])
}

// requestLog counts the paths an HTTP handler was asked for.
type requestLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.paths = append(l.paths, r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.paths {
		if p == path {
			n++
		}
	}
	return n
}
