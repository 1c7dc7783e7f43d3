package bootserver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/netns"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/iana"
	"pack.ag/tftp"
)

// The netns tests put the server in one network namespace and a DHCP client
// in another, joined by a veth pair. No address outside them is used.
const (
	netnsServerIP = "10.213.7.1"
	netnsClientIP = "10.213.7.2"
	serverIfname  = "pxe-srv"
	clientIfname  = "pxe-cli"
)

// helperEnv carries a server's Options (as JSON) to TestHelperBootServerProcess.
const helperEnv = "BOOTSERVER_HELPER_OPTIONS"

type helperOptions struct {
	Dir, TFTPDir, Interface, Mode, Range, LeaseFile string
}

// TestHelperBootServerProcess is not a test: netns tests run the test binary
// inside the server namespace with this test selected.
func TestHelperBootServerProcess(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper process for the netns tests")
	}
	var h helperOptions
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		t.Fatal(err)
	}
	opts := Options{Dir: h.Dir, TFTPDir: h.TFTPDir, Interface: h.Interface, DHCP: DHCPMode(h.Mode),
		LeaseFile: h.LeaseFile, Logger: slogToStderr()}
	if h.Range != "" {
		r, err := ParseRange(h.Range)
		if err != nil {
			t.Fatal(err)
		}
		opts.Range = r
	}
	srv, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx); err != nil {
		t.Fatal(err)
	}
}

type netnsPair struct{ server, client string }

func newNetnsPair(t *testing.T) netnsPair {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespace tests need ip (iproute2)")
	}
	p := netnsPair{server: fmt.Sprintf("pxes-%d", os.Getpid()), client: fmt.Sprintf("pxec-%d", os.Getpid())}
	ipCmd := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ipCmd("netns", "add", p.server)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", p.server).Run() })
	ipCmd("netns", "add", p.client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", p.client).Run() })
	ipCmd("link", "add", serverIfname, "netns", p.server, "type", "veth", "peer", "name", clientIfname, "netns", p.client)
	ipCmd("-n", p.server, "addr", "add", netnsServerIP+"/24", "dev", serverIfname)
	ipCmd("-n", p.client, "addr", "add", netnsClientIP+"/24", "dev", clientIfname)
	ipCmd("-n", p.server, "link", "set", serverIfname, "up")
	ipCmd("-n", p.client, "link", "set", clientIfname, "up")
	return p
}

// startServerIn runs the boot server in namespace ns and waits until it is
// ready. The returned logs fill as the server runs; the server is stopped
// at cleanup (or by calling stop, which returns its full log).
func startServerIn(t *testing.T, ns string, h helperOptions) (logs *logBuffer, stop func() string) {
	t.Helper()
	raw, _ := json.Marshal(h)
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperBootServerProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	logs = &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
		return logs.String()
	}
	t.Cleanup(func() { stop() })
	logs.waitForLine(t, "boot server ready")
	return logs, stop
}

func pxeClientMods(arch iana.Arch, ipxe bool) []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(fmt.Sprintf("PXEClient:Arch:%05d:UNDI:002001", arch))),
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
	}
	if ipxe {
		mods = append(mods, dhcpv4.WithUserClass("iPXE", false))
	}
	return mods
}

func writeBootFiles(t *testing.T) (bundle, tftpDir string, efi []byte) {
	t.Helper()
	bundle, tftpDir = t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "boot.ipxe"), []byte("#!ipxe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeRandomFile(t, filepath.Join(tftpDir, BIOSBootFile), 70000)
	efi = writeRandomFile(t, filepath.Join(tftpDir, EFIBootFile), 1428*300+77)
	return bundle, tftpDir, efi
}

func TestNetnsFullDHCPLeasesWithBootFiles(t *testing.T) {
	ns := newNetnsPair(t)
	bundle, tftpDir, efi := writeBootFiles(t)
	leaseFile := filepath.Join(t.TempDir(), "leases.json")
	logs, stop := startServerIn(t, ns.server, helperOptions{Dir: bundle, TFTPDir: tftpDir, Interface: serverIfname,
		Mode: string(FullDHCP), Range: "10.213.7.100-10.213.7.150", LeaseFile: leaseFile})
	scriptURL := "http://" + netnsServerIP + ":8080/boot.ipxe"

	cases := []struct {
		name string
		mac  net.HardwareAddr
		arch iana.Arch
		ipxe bool
		want string
	}{
		{"BIOS", net.HardwareAddr{2, 0, 0, 0, 0, 1}, iana.INTEL_X86PC, false, BIOSBootFile},
		{"UEFI", net.HardwareAddr{2, 0, 0, 0, 0, 2}, iana.EFI_X86_64, false, EFIBootFile},
		{"iPXE", net.HardwareAddr{2, 0, 0, 0, 0, 3}, iana.EFI_X86_64, true, scriptURL},
	}
	rng, _ := ParseRange("10.213.7.100-10.213.7.150")
	for _, c := range cases {
		var lease *nclient4.Lease
		err := netns.Do(ns.client, func() error {
			cl, err := nclient4.New(clientIfname, nclient4.WithHWAddr(c.mac), nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			lease, err = cl.Request(ctx, pxeClientMods(c.arch, c.ipxe)...)
			return err
		})
		if err != nil {
			t.Fatalf("%s: DHCP: %v\nserver log:\n%s", c.name, err, logs.String())
		}
		ack := lease.ACK
		ip, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
		if ack.MessageType() != dhcpv4.MessageTypeAck || !rng.contains(ip) {
			t.Errorf("%s: got %s for %s, want an ACK in %s", c.name, ack.MessageType(), ack.YourIPAddr, rng)
		}
		if ack.BootFileName != c.want || ack.BootFileNameOption() != c.want || !ack.ServerIPAddr.Equal(net.ParseIP(netnsServerIP)) {
			t.Errorf("%s: file %q option 67 %q siaddr %s, want %q from %s", c.name, ack.BootFileName, ack.BootFileNameOption(), ack.ServerIPAddr, c.want, netnsServerIP)
		}
	}

	// The firmware's next step: fetch the iPXE binary over TFTP.
	var got []byte
	err := netns.Do(ns.client, func() error {
		cl, err := tftp.NewClient(tftp.ClientBlocksize(1428), tftp.ClientTransferSize(true))
		if err != nil {
			return err
		}
		resp, err := cl.Get("tftp://" + netnsServerIP + ":69/" + EFIBootFile)
		if err != nil {
			return err
		}
		if size, err := resp.Size(); err != nil || size != int64(len(efi)) {
			return fmt.Errorf("tsize %d (%v), want %d", size, err, len(efi))
		}
		got, err = io.ReadAll(resp)
		return err
	})
	if err != nil {
		t.Fatalf("TFTP: %v\nserver log:\n%s", err, logs.String())
	}
	if sha256.Sum256(got) != sha256.Sum256(efi) {
		t.Errorf("TFTP: got %d bytes, sha256 differs from the %d-byte file", len(got), len(efi))
	}

	log := stop()
	for _, want := range []string{"mode=full", "reply=ACK", "bootfile=" + BIOSBootFile, "bootfile=" + scriptURL, "msg=tftp file=/" + EFIBootFile} {
		if !strings.Contains(log, want) {
			t.Errorf("server log lacks %q:\n%s", want, log)
		}
	}
	saved, err := os.ReadFile(leaseFile)
	if err != nil {
		t.Fatal(err)
	}
	var leases []Lease
	if err := json.Unmarshal(saved, &leases); err != nil || len(leases) != len(cases) {
		t.Errorf("lease file holds %d leases (%v), want %d:\n%s", len(leases), err, len(cases), saved)
	}
}

func TestNetnsProxyDHCPOffersNoAddress(t *testing.T) {
	ns := newNetnsPair(t)
	bundle, tftpDir, _ := writeBootFiles(t)
	logs, _ := startServerIn(t, ns.server, helperOptions{Dir: bundle, TFTPDir: tftpDir, Interface: serverIfname, Mode: string(ProxyDHCP)})
	scriptURL := "http://" + netnsServerIP + ":8080/boot.ipxe"

	for _, c := range []struct {
		name string
		arch iana.Arch
		ipxe bool
		want string
	}{
		{"BIOS", iana.INTEL_X86PC, false, BIOSBootFile},
		{"UEFI", iana.EFI_X86_64, false, EFIBootFile},
		{"iPXE", iana.INTEL_X86PC, true, scriptURL},
	} {
		var offer *dhcpv4.DHCPv4
		err := netns.Do(ns.client, func() error {
			cl, err := nclient4.New(clientIfname, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			offer, err = cl.DiscoverOffer(ctx, pxeClientMods(c.arch, c.ipxe)...)
			return err
		})
		if err != nil {
			t.Fatalf("%s: DHCP: %v\nserver log:\n%s", c.name, err, logs.String())
		}
		if !offer.YourIPAddr.Equal(net.IPv4zero) || offer.ClassIdentifier() != "PXEClient" || offer.BootFileName != c.want {
			t.Errorf("%s: offer yiaddr %s class %q file %q, want 0.0.0.0 PXEClient %q", c.name, offer.YourIPAddr, offer.ClassIdentifier(), offer.BootFileName, c.want)
		}
		if server := net.ParseIP(netnsServerIP); !offer.ServerIPAddr.Equal(server) || !offer.ServerIdentifier().Equal(server) || offer.TFTPServerName() != netnsServerIP {
			t.Errorf("%s: offer siaddr %s option 54 %s option 66 %q, want %s", c.name, offer.ServerIPAddr, offer.ServerIdentifier(), offer.TFTPServerName(), server)
		}
	}

	// After the site's DHCP server gave an address, the client unicasts a
	// ProxyDHCPREQUEST to port 4011.
	var ack *dhcpv4.DHCPv4
	err := netns.Do(ns.client, func() error {
		conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(netnsServerIP), Port: PXEPort})
		if err != nil {
			return err
		}
		defer conn.Close()
		mods := append(pxeClientMods(iana.EFI_X86_64, false), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithClientIP(net.ParseIP(netnsClientIP)), dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 7}))
		req, err := dhcpv4.New(mods...)
		if err != nil {
			return err
		}
		if _, err := conn.Write(req.ToBytes()); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1500)
		n, err := conn.Read(buf)
		if err != nil {
			return fmt.Errorf("no ProxyDHCPACK: %w", err)
		}
		ack, err = dhcpv4.FromBytes(buf[:n])
		if err == nil && ack.TransactionID != req.TransactionID {
			err = errors.New("ProxyDHCPACK for another transaction")
		}
		return err
	})
	if err != nil {
		t.Fatalf("port 4011: %v\nserver log:\n%s", err, logs.String())
	}
	if ack.MessageType() != dhcpv4.MessageTypeAck || ack.BootFileName != EFIBootFile {
		t.Errorf("port 4011: got %s file %q, want ACK %q", ack.MessageType(), ack.BootFileName, EFIBootFile)
	}
}
