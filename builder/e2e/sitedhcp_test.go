package e2e

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/ml-appliance/appliance/internal/netns"
)

// siteDHCP is a test double of a site's own DHCP server: it hands out
// addresses and says nothing about netbooting, so a boot server in
// proxyDHCP mode is shown to work beside it, as on a real site network.
type siteDHCP struct {
	serverIP net.IP
	next     net.IP
	mu       sync.Mutex
	leases   map[string]net.IP
	// Acks counts the ACKs sent, per MAC.
	Acks map[string]int
	// options go into every reply (a router, name servers).
	options []dhcpv4.Modifier
}

// startSiteDHCP serves DHCP on iface in ns from serverIP (an address of
// iface, in a /24) with addresses from first on, and options in every
// reply; it stops at cleanup.
func startSiteDHCP(t *testing.T, ns, iface string, serverIP, first net.IP, options ...dhcpv4.Modifier) *siteDHCP {
	t.Helper()
	d := &siteDHCP{serverIP: serverIP.To4(), next: first.To4(), leases: map[string]net.IP{}, Acks: map[string]int{}, options: options}
	var srv *server4.Server
	err := netns.Do(ns, func() error {
		conn, err := server4.NewIPv4UDPConn(iface, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort})
		if err != nil {
			return err
		}
		srv, err = server4.NewServer("", nil, d.handle, server4.WithConn(conn))
		return err
	})
	if err != nil {
		t.Fatalf("site DHCP double: %v", err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	return d
}

func (d *siteDHCP) handle(conn net.PacketConn, peer net.Addr, req *dhcpv4.DHCPv4) {
	var answer dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		answer = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		answer = dhcpv4.MessageTypeAck
	default:
		return
	}
	mac := req.ClientHWAddr.String()
	d.mu.Lock()
	ip, ok := d.leases[mac]
	if !ok {
		ip = append(net.IP(nil), d.next...)
		d.leases[mac] = ip
		d.next = append(net.IP(nil), d.next...)
		d.next[3]++
	}
	if answer == dhcpv4.MessageTypeAck {
		d.Acks[mac]++
	}
	d.mu.Unlock()
	resp, err := dhcpv4.NewReplyFromRequest(req, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(answer),
		dhcpv4.WithYourIP(ip),
		dhcpv4.WithServerIP(d.serverIP),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(d.serverIP)),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)),
	}, d.options...)...)
	if err != nil {
		return
	}
	conn.WriteTo(resp.ToBytes(), peer)
}

// acks returns how many ACKs mac got.
func (d *siteDHCP) acks(mac string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.Acks[mac]
}

// lease returns the address mac was given, nil if none.
func (d *siteDHCP) lease(mac string) net.IP {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.leases[mac]
}
