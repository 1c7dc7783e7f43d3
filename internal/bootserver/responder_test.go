package bootserver

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

const testScriptURL = "http://10.0.0.1:8080/boot.ipxe"

var testMAC = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}

func pxeDiscover(t *testing.T, arch iana.Arch, extra ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	mods := append([]dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
	}, extra...)
	m, err := dhcpv4.NewDiscovery(testMAC, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testResponder(mode DHCPMode, pool *leasePool) *responder {
	return &responder{
		mode: mode, serverIP: net.IPv4(10, 0, 0, 1).To4(), mask: net.CIDRMask(24, 32),
		scriptURL: testScriptURL, leaseTime: time.Hour, pool: pool,
		log: slog.New(slog.DiscardHandler),
	}
}

func TestProxyOfferCarriesNoAddressAndTheArchsBootFile(t *testing.T) {
	uuid := append([]byte{0}, bytes.Repeat([]byte{0xab}, 16)...)
	for _, c := range []struct {
		name string
		req  *dhcpv4.DHCPv4
		want string
	}{
		{"BIOS", pxeDiscover(t, iana.INTEL_X86PC), BIOSBootFile},
		{"UEFI x86-64", pxeDiscover(t, iana.EFI_X86_64), EFIBootFile},
		{"UEFI BC", pxeDiscover(t, iana.EFI_BC), EFIBootFile},
		{"iPXE user class", pxeDiscover(t, iana.INTEL_X86PC, dhcpv4.WithUserClass("iPXE", false)), testScriptURL},
		{"iPXE option 175", pxeDiscover(t, iana.EFI_X86_64, dhcpv4.WithGeneric(optionIPXEEncapsulated, []byte{0xb1, 1, 1})), testScriptURL},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.req.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, uuid))
			resp, err := testResponder(ProxyDHCP, nil).reply(c.req, dhcpv4.ServerPort)
			if err != nil || resp == nil {
				t.Fatalf("reply = %v, %v", resp, err)
			}
			if resp.MessageType() != dhcpv4.MessageTypeOffer || !resp.YourIPAddr.Equal(net.IPv4zero) {
				t.Errorf("want an OFFER with yiaddr 0.0.0.0, got %s yiaddr %s", resp.MessageType(), resp.YourIPAddr)
			}
			if resp.BootFileName != c.want || resp.BootFileNameOption() != c.want {
				t.Errorf("boot file %q / option 67 %q, want %q", resp.BootFileName, resp.BootFileNameOption(), c.want)
			}
			if resp.ClassIdentifier() != "PXEClient" || !resp.ServerIPAddr.Equal(net.IPv4(10, 0, 0, 1)) ||
				resp.TFTPServerName() != "10.0.0.1" || !resp.ServerIdentifier().Equal(net.IPv4(10, 0, 0, 1)) {
				t.Errorf("option 60 %q, siaddr %s, option 66 %q, option 54 %s", resp.ClassIdentifier(), resp.ServerIPAddr, resp.TFTPServerName(), resp.ServerIdentifier())
			}
			if !bytes.Equal(resp.Options.Get(dhcpv4.OptionVendorSpecificInformation), pxeDiscoveryControl) {
				t.Errorf("option 43 = %x, want %x", resp.Options.Get(dhcpv4.OptionVendorSpecificInformation), pxeDiscoveryControl)
			}
			if !bytes.Equal(resp.Options.Get(dhcpv4.OptionClientMachineIdentifier), uuid) {
				t.Error("option 97 (client UUID) not echoed")
			}
		})
	}
}

func TestProxyIgnoresWhatIsNotItsBusiness(t *testing.T) {
	plain, _ := dhcpv4.NewDiscovery(testMAC)
	req, _ := dhcpv4.NewRequestFromOffer(pxeDiscover(t, iana.INTEL_X86PC))
	for _, c := range []struct {
		name string
		req  *dhcpv4.DHCPv4
		port int
	}{
		{"non-PXE discover", plain, dhcpv4.ServerPort},
		{"arm64 PXE client", pxeDiscover(t, iana.EFI_ARM64), dhcpv4.ServerPort},
		{"request on port 67", req, dhcpv4.ServerPort},
		{"discover on port 4011", pxeDiscover(t, iana.INTEL_X86PC), PXEPort},
	} {
		if resp, err := testResponder(ProxyDHCP, nil).reply(c.req, c.port); resp != nil || err != nil {
			t.Errorf("%s: want no reply, got %v, %v", c.name, resp, err)
		}
	}
}

func TestProxyAcksRequestOnPort4011(t *testing.T) {
	req, err := dhcpv4.New(dhcpv4.WithHwAddr(testMAC), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 57)),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := testResponder(ProxyDHCP, nil).reply(req, PXEPort)
	if err != nil || resp == nil {
		t.Fatalf("reply = %v, %v", resp, err)
	}
	if resp.MessageType() != dhcpv4.MessageTypeAck || resp.BootFileName != EFIBootFile || !resp.YourIPAddr.Equal(net.IPv4zero) {
		t.Errorf("got %s file %q yiaddr %s", resp.MessageType(), resp.BootFileName, resp.YourIPAddr)
	}
}

func TestFullDHCPLeaseCycle(t *testing.T) {
	rng, _ := ParseRange("10.0.0.1-10.0.0.3")
	leaseFile := t.TempDir() + "/leases.json"
	pool, err := newLeasePool(rng, netip.MustParseAddr("10.0.0.1"), time.Hour, leaseFile)
	if err != nil {
		t.Fatal(err)
	}
	d := testResponder(FullDHCP, pool)
	d.router = net.IPv4(10, 0, 0, 254).To4()

	offer, err := d.reply(pxeDiscover(t, iana.EFI_X86_64), dhcpv4.ServerPort)
	if err != nil || offer == nil {
		t.Fatalf("offer = %v, %v", offer, err)
	}
	// 10.0.0.1 is the server's own address: skipped.
	if !offer.YourIPAddr.Equal(net.IPv4(10, 0, 0, 2)) || offer.BootFileName != EFIBootFile ||
		offer.ClassIdentifier() != "" || len(offer.Router()) != 1 || offer.SubnetMask().String() != "ffffff00" {
		t.Fatalf("offer: yiaddr %s file %q class %q router %v mask %s", offer.YourIPAddr, offer.BootFileName, offer.ClassIdentifier(), offer.Router(), offer.SubnetMask())
	}
	req, _ := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient")))
	ack, err := d.reply(req, dhcpv4.ServerPort)
	if err != nil || ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(net.IPv4(10, 0, 0, 2)) {
		t.Fatalf("ack = %v, %v", ack, err)
	}

	// Leases survive a restart.
	again, err := newLeasePool(rng, netip.MustParseAddr("10.0.0.1"), time.Hour, leaseFile)
	if err != nil {
		t.Fatal(err)
	}
	if l := again.leases(); len(l) != 1 || l[0].IP != "10.0.0.2" || l[0].MAC != testMAC.String() {
		t.Fatalf("reloaded leases %+v", l)
	}

	// Another client asking for the same address is refused.
	other := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	steal, _ := dhcpv4.New(dhcpv4.WithHwAddr(other), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 2))))
	if nak, _ := d.reply(steal, dhcpv4.ServerPort); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("stealing request: want NAK, got %v", nak)
	}
	// A request for another server's offer is ignored.
	elsewhere, _ := dhcpv4.NewRequestFromOffer(offer)
	elsewhere.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 9)))
	if resp, _ := d.reply(elsewhere, dhcpv4.ServerPort); resp != nil {
		t.Errorf("request to another server answered: %v", resp)
	}
	// The range has one address left, then it is exhausted.
	if o, _ := d.reply(pxeDiscover(t, iana.INTEL_X86PC, dhcpv4.WithHwAddr(other)), dhcpv4.ServerPort); o == nil || !o.YourIPAddr.Equal(net.IPv4(10, 0, 0, 3)) {
		t.Fatalf("second client offer %v", o)
	}
	if _, err := pool.commit(other, netip.MustParseAddr("10.0.0.3")); err != nil {
		t.Fatal(err)
	}
	third := net.HardwareAddr{2, 0, 0, 0, 0, 10}
	if _, err := d.reply(pxeDiscover(t, iana.INTEL_X86PC, dhcpv4.WithHwAddr(third)), dhcpv4.ServerPort); err == nil {
		t.Error("exhausted range: want an error")
	}
}

func TestFullDHCPGivesNonPXEClientsNoBootFile(t *testing.T) {
	rng, _ := ParseRange("10.0.0.100-10.0.0.200")
	pool, _ := newLeasePool(rng, netip.MustParseAddr("10.0.0.1"), time.Hour, "")
	plain, _ := dhcpv4.NewDiscovery(testMAC)
	offer, err := testResponder(FullDHCP, pool).reply(plain, dhcpv4.ServerPort)
	if err != nil || offer == nil {
		t.Fatal(offer, err)
	}
	if offer.BootFileName != "" || offer.BootFileNameOption() != "" || !offer.YourIPAddr.Equal(net.IPv4(10, 0, 0, 100)) {
		t.Errorf("file %q option 67 %q yiaddr %s", offer.BootFileName, offer.BootFileNameOption(), offer.YourIPAddr)
	}
	// systemd-networkd drops a lease without a server identifier.
	if sid := offer.ServerIdentifier(); sid == nil || sid.IsUnspecified() {
		t.Errorf("offer to a booted node has no server identifier (option 54): %s", offer.Summary())
	}
}

func TestParseRange(t *testing.T) {
	for in, wantErr := range map[string]bool{
		"10.0.0.100-10.0.0.200": false,
		"10.0.0.5-10.0.0.5":     false,
		"10.0.0.200-10.0.0.100": true,
		"10.0.0.100":            true,
		"10.0.0.1-fe80::1":      true,
		"x-y":                   true,
	} {
		if _, err := ParseRange(in); (err != nil) != wantErr {
			t.Errorf("ParseRange(%q) error = %v, want error %v", in, err, wantErr)
		}
	}
}
