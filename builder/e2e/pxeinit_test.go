package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// Addresses on the test's bridge: the site's DHCP server (a test double)
// and the initial server.
const (
	siteDHCPIP   = "10.213.9.1"
	initServerIP = "10.213.9.10"
	initTap      = "pxetap1"
	workerTap    = "pxetap2"
)

// TestWorkersNetbootFromInitServer builds configs/single-node.yaml with the
// K3s stand-in and outputs.pxe.serveFromInitServer (proxyDHCP, the
// default), boots the raw image as the initial server (OVMF) on a bridge
// in a network namespace whose only other server is the site's DHCP server
// (siteDHCP, a test double that hands out addresses and nothing about
// netbooting), and netboots a worker (SeaBIOS, QEMU's iPXE ROM) on the same
// bridge: its address from the site's DHCP server, the boot script from the
// initial server's proxyDHCP, the node config over HTTP, and the OS image
// the initial server booted from, read from its OS-A partition. The worker
// reaches the end of firstboot as an agent and its K3s (the stand-in)
// dials the initial server.
//
// The site has an image payload (one image, served to the build by a
// registry on 127.0.0.1), which the worker never downloads: the initial
// server serves it from its PAYLOAD partition on every address; the
// worker, which has none, says so, lists the server's registry in
// registries.yaml, and its K3s stand-in resolves the payload's image
// through it. The OS image the worker downloads and holds in RAM is the
// build's os.squashfs, which has no file as large as the payload's layer
// (checkOSImageLacksPayload). Over SSH the test reads what the worker's
// kernel says of its memory and logs it beside the sizes of both
// artifacts.
func TestWorkersNetbootFromInitServer(t *testing.T) {
	needNetnsVMs(t)
	t.Parallel()
	work := t.TempDir()
	standIn := withStandInK3s(t, work)
	reg := testrepo.DiskRegistry(t, filepath.Join(work, "registry"))
	const image = "/team/notebook:1.2"
	testfixture.PushStreamed(t, reg.Host+image, layersImage(t, testfixture.StreamedLayer(t, "netboot payload", netbootPayloadLayer)))
	signer, authorizedKey := sshKey(t)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		standIn(doc)
		doc["images"] = []any{reg.Host + image}
		cluster := doc["cluster"].(map[string]any)
		cluster["ssh"] = map[string]any{"authorizedKeys": []any{authorizedKey}}
		cluster["server"] = "https://" + initServerIP + ":6443"
		cluster["nodes"] = []any{map[string]any{
			"hostname": "node-1", "mac": "52:54:00:00:00:01", "role": "server", "init": true, "address": initServerIP + "/24",
		}}
		cluster["network"] = map[string]any{"gateway": "10.213.9.254", "dns": []any{"10.213.9.254"}}
		doc["outputs"] = map[string]any{
			"raw": map[string]any{},
			"pxe": map[string]any{"serveFromInitServer": true},
		}
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	checkNothingServedOwnsTheCluster(t, out, "single-node")
	digest := strings.Fields(readFile(t, filepath.Join(out, "pxe", "os.squashfs.sha256")))[0]
	rep := readReport(t, out)
	desc, _ := payloadDescriptor(t, out, filepath.Join(out, "single-node.squashfs"))
	osImage := checkOSImageLacksPayload(t, filepath.Join(out, "pxe"), desc)
	payloadPart := partition(t, out, bootparam.LabelPayload)
	disk := filepath.Join(work, "init.raw")
	run(t, "cp", "--sparse=always", filepath.Join(out, "single-node.raw"), disk)

	ns := bridgeNetns(t, siteDHCPIP+"/24", initTap, workerTap)
	site := startSiteDHCP(t, ns, pxeBridge, net.ParseIP(siteDHCPIP), net.ParseIP("10.213.9.100"))
	initStart := time.Now()
	server := startInNetns(t, ns, vmtest.Options{
		UEFI: true, Disks: []string{disk}, MemoryMiB: 2048,
		Extra: []string{
			"-netdev", "tap,id=n0,ifname=" + initTap + ",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
		},
		Console: consoleLog(t),
	})
	expect(t, server, consoleLine+`firstboot: cluster-secrets: partition SECRETS \(/dev/\S+\): installed (\d+) of its \d+ files in /var/lib/appliance/cluster for role server \(agent-join-token, agent-token, join-token, tls/`, 0, bootTimeout)
	expect(t, server, consoleLine+`firstboot: cluster-secrets: wiped partition SECRETS \(/dev/\S+\) \(\d+ bytes\)$`, 0, bootTimeout)
	expect(t, server, consoleLine+`firstboot: pxe-server: appliance-pxe\.service queued: workers netboot from this node$`, 0, bootTimeout)
	served := `firstboot: serve-pxe: OS image /dev/\S+: \d+ bytes, sha256 ([0-9a-f]{64}) \(hashed in `
	line, _ := expect(t, server, consoleLine+served, 0, bootTimeout)
	t.Log(line)
	if got := regexp.MustCompile(served).FindStringSubmatch(line)[1]; got != digest {
		t.Errorf("the initial server serves an OS image with sha256 %s; the build's is %s", got, digest)
	}
	line, _ = expect(t, server, consoleLine+`firstboot: serve-pxe: serving the PXE bundle at http://`+regexp.QuoteMeta(initServerIP)+`:8080/boot\.ipxe \(DHCP proxy on \S+\)$`, 0, bootTimeout)
	t.Logf("%s (%.1fs after the initial server's QEMU started)", line, time.Since(initStart).Seconds())
	// It serves the payload on every address: the worker pulls from it.
	where := fmt.Sprintf("%s (/dev/vda%d)", imagepayload.KindPartition, payloadPart.Number)
	t.Log(expectPayloadServed(t, server, desc, where, ":5000", "[::]:5000"))

	workerStart := time.Now()
	worker := startInNetns(t, ns, vmtest.Options{
		MemoryMiB: 2048,
		Extra: []string{
			"-netdev", "tap,id=n0,ifname=" + workerTap + ",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,bootindex=0",
		},
		Console: consoleLog(t),
	})
	expect(t, worker, `^appliance-init: GET http://`+regexp.QuoteMeta(initServerIP)+`:8080/os\.squashfs \(attempt 1/`, 0, bootTimeout)
	downloaded := `^appliance-init: OS image: (\d+) bytes, sha256 ` + digest + ` verified$`
	line, _ = expect(t, worker, downloaded, 0, bootTimeout)
	t.Logf("%s (%.1fs after the worker's QEMU started)", line, time.Since(workerStart).Seconds())
	inRAM, _ := strconv.ParseInt(regexp.MustCompile(downloaded).FindStringSubmatch(line)[1], 10, 64)
	t.Logf("the worker downloaded the OS image, %d bytes (os.squashfs: %d); the payload, %d bytes, stays on the initial server", inRAM, osImage, desc.Size)
	if inRAM != osImage {
		t.Errorf("the worker downloaded %d bytes; the build's os.squashfs has %d", inRAM, osImage)
	}
	expect(t, worker, consoleLine+`firstboot: load-config: kernel command line firstboot\.config=nodes/agent\.yaml \(http://`+regexp.QuoteMeta(initServerIP)+`:8080/nodes/agent\.yaml\)`, 0, bootTimeout)
	expect(t, worker, consoleLine+`firstboot: done role=agent hostname=single-node-123456$`, 0, bootTimeout)
	line, _ = expect(t, worker, consoleLine+`k3s-standin: test double \(not K3s\): agent started with `, 0, bootTimeout)
	// Its token came in its node config: the agent join token, the only
	// secret the network serves.
	for _, want := range []string{"server=https://" + initServerIP + ":6443", "token=(set)"} {
		if !strings.Contains(line, want) {
			t.Errorf("stand-in K3s agent config lacks %s: %q", want, line)
		}
	}
	expect(t, worker, consoleLine+`firstboot: cluster-secrets: no secrets volume on this node's boot medium`, 0, bootTimeout)
	t.Logf("worker: firstboot done and K3s (stand-in) started %.1fs after its QEMU started", time.Since(workerStart).Seconds())
	// The worker has no payload: its images come from the initial server's
	// registry, which its containerd (the stand-in) reaches.
	serverRegistry := "http://" + initServerIP + ":5000"
	noPayload := `images: from the servers \(` + regexp.QuoteMeta(serverRegistry) + `\) and the embedded mirror: this node has no payload: none found \(looked at .*; a netbooted node has none\)`
	expect(t, worker, consoleLine+`firstboot: image-payload: `+noPayload+`$`, 0, bootTimeout)
	expectStandInPull(t, worker, desc, rep, serverRegistry+"/v2")
	for _, l := range worker.Lines() {
		if strings.Contains(l, "firstboot: registry: serving") {
			t.Errorf("the worker, which has no payload, serves one: %q", l)
		}
	}
	checkWorkerOverSSH(t, ns, site.lease("52:54:00:12:34:56"), signer, inRAM, noPayload,
		map[string][]string{reg.Host: {serverRegistry}})
	// The worker's addresses came from the site's server: the initial
	// server, in proxyDHCP mode, gives none.
	n := site.acks("52:54:00:12:34:56")
	if n == 0 {
		t.Errorf("the site's DHCP server never acked the worker")
	}
	t.Logf("the site's DHCP server (test double) acked the worker %d times", n)
}
