package bootserver

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// DHCPMode says how the server takes part in DHCP.
type DHCPMode string

const (
	// ProxyDHCP answers only PXE clients and gives no address, so it runs
	// beside the site's own DHCP server (PXE spec 2.1, "proxyDHCP").
	ProxyDHCP DHCPMode = "proxy"
	// FullDHCP hands out addresses from a range: for an isolated network.
	FullDHCP DHCPMode = "full"
	// NoDHCP serves HTTP and TFTP only.
	NoDHCP DHCPMode = "off"
)

// PXEPort is where PXE clients send their ProxyDHCPREQUEST.
const PXEPort = 4011

// pxeDiscoveryControl is option 43 carrying PXE sub-option 6
// (PXE_DISCOVERY_CONTROL) = 8: "the boot file name in this offer is the
// one to download; do no boot server discovery".
var pxeDiscoveryControl = []byte{6, 1, 8, 255}

// responder decides the reply to each DHCP message. It has no sockets, so
// tests call it directly.
type responder struct {
	mode      DHCPMode
	serverIP  net.IP
	mask      net.IPMask
	scriptURL string
	router    net.IP
	dns       []net.IP
	leaseTime time.Duration
	pool      *leasePool // FullDHCP only
	log       *slog.Logger
}

// reply returns the answer to req received on port (67 or PXEPort), or nil
// when req is not for us.
func (d *responder) reply(req *dhcpv4.DHCPv4, port int) (*dhcpv4.DHCPv4, error) {
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, nil
	}
	c := describeClient(req)
	if d.mode == ProxyDHCP || port == PXEPort {
		return d.proxyReply(req, c, port)
	}
	return d.fullReply(req, c)
}

func (d *responder) proxyReply(req *dhcpv4.DHCPv4, c client, port int) (*dhcpv4.DHCPv4, error) {
	if !c.netbooting() {
		return nil, nil
	}
	var answer dhcpv4.MessageType
	switch {
	case port != PXEPort && req.MessageType() == dhcpv4.MessageTypeDiscover:
		answer = dhcpv4.MessageTypeOffer
	case port == PXEPort && (req.MessageType() == dhcpv4.MessageTypeRequest || req.MessageType() == dhcpv4.MessageTypeInform):
		answer = dhcpv4.MessageTypeAck
	default:
		return nil, nil
	}
	file, ok := c.bootFile(d.scriptURL)
	if !ok {
		d.log.Warn("dhcp: no boot file for this client architecture", "mac", req.ClientHWAddr.String(), "arch", uint16(c.arch))
		return nil, nil
	}
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(answer),
		dhcpv4.WithYourIP(net.IPv4zero),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient")),
		dhcpv4.WithGeneric(dhcpv4.OptionVendorSpecificInformation, pxeDiscoveryControl),
	)
	if err != nil {
		return nil, fmt.Errorf("build proxyDHCP reply: %w", err)
	}
	d.addBoot(resp, req, file)
	d.log.Info("dhcp", "mode", "proxy", "port", port, "mac", req.ClientHWAddr.String(), "request", req.MessageType().String(),
		"reply", answer.String(), "arch", uint16(c.arch), "ipxe", c.ipxe, "bootfile", file)
	return resp, nil
}

func (d *responder) fullReply(req *dhcpv4.DHCPv4, c client) (*dhcpv4.DHCPv4, error) {
	mac := req.ClientHWAddr
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		ip, err := d.pool.offer(mac)
		if err != nil {
			return nil, fmt.Errorf("offer an address to %s: %w", mac, err)
		}
		return d.lease(req, c, dhcpv4.MessageTypeOffer, ip)
	case dhcpv4.MessageTypeRequest:
		if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(d.serverIP) {
			return nil, nil // the client took another server's offer
		}
		want := req.RequestedIPAddress()
		if want == nil || want.IsUnspecified() {
			want = req.ClientIPAddr
		}
		ip, ok := netip.AddrFromSlice(want.To4())
		if ok {
			if _, err := d.pool.commit(mac, ip); err == nil {
				return d.lease(req, c, dhcpv4.MessageTypeAck, ip)
			} else {
				d.log.Warn("dhcp: refusing request", "mac", mac.String(), "ip", want.String(), "error", err)
			}
		}
		return dhcpv4.NewReplyFromRequest(req,
			dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(d.serverIP)))
	case dhcpv4.MessageTypeRelease:
		if err := d.pool.release(mac); err != nil {
			return nil, err
		}
		d.log.Info("dhcp", "mode", "full", "mac", mac.String(), "request", "RELEASE")
	}
	return nil, nil
}

// lease builds an OFFER or ACK giving ip, with boot information for
// netbooting clients. Every lease names this server (option 54: RFC 2131
// section 4.3.1 requires it in OFFER and ACK); systemd-networkd ignores a
// lease without it ("received lease lacks address, server address or lease
// lifetime", sd-dhcp-client.c), so a booted node would get no address.
func (d *responder) lease(req *dhcpv4.DHCPv4, c client, t dhcpv4.MessageType, ip netip.Addr) (*dhcpv4.DHCPv4, error) {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(t),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(d.serverIP)),
		dhcpv4.WithYourIP(net.IP(ip.AsSlice())),
		dhcpv4.WithNetmask(d.mask),
		dhcpv4.WithLeaseTime(uint32(d.leaseTime / time.Second)),
	}
	if d.router != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRouter(d.router)))
	}
	if len(d.dns) > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(d.dns...)))
	}
	resp, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		return nil, fmt.Errorf("build DHCP %s: %w", t, err)
	}
	file := ""
	if c.netbooting() {
		var ok bool
		if file, ok = c.bootFile(d.scriptURL); ok {
			d.addBoot(resp, req, file)
		} else {
			d.log.Warn("dhcp: no boot file for this client architecture", "mac", req.ClientHWAddr.String(), "arch", uint16(c.arch))
		}
	}
	d.log.Info("dhcp", "mode", "full", "mac", req.ClientHWAddr.String(), "request", req.MessageType().String(),
		"reply", t.String(), "ip", ip.String(), "arch", uint16(c.arch), "ipxe", c.ipxe, "bootfile", file)
	return resp, nil
}

// addBoot puts the boot file and the server that has it into resp: the
// BOOTP siaddr/file fields, options 66/67, and the client's UUID (option
// 97) echoed back as the PXE spec asks.
func (d *responder) addBoot(resp, req *dhcpv4.DHCPv4, file string) {
	resp.ServerIPAddr = d.serverIP
	resp.BootFileName = file
	resp.UpdateOption(dhcpv4.OptServerIdentifier(d.serverIP))
	resp.UpdateOption(dhcpv4.OptTFTPServerName(d.serverIP.String()))
	resp.UpdateOption(dhcpv4.OptBootFileName(file))
	if uuid := req.Options.Get(dhcpv4.OptionClientMachineIdentifier); uuid != nil {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, uuid))
	}
}
