// Package bootserver is the boot server for netbooting appliance workers
// (`builder serve --pxe DIR`, and an initial server that serves the bundle baked into its image): it serves a PXE bundle over HTTP, the iPXE
// binaries over TFTP, and answers DHCP so that firmware finds them.
//
// The boot chain it drives: the firmware's PXE ROM asks DHCP for a boot
// file and gets the iPXE binary for its architecture (RFC 4578 option 93:
// 0 = BIOS -> undionly.kpxe, 7/9 = x86-64 UEFI -> ipxe.efi), fetches it over
// TFTP; iPXE asks DHCP again, says so (user class "iPXE" or option 175), and
// gets the HTTP URL of the bundle's boot script instead, which loads the
// kernel and initramfs over HTTP.
//
// DHCP runs in one of two modes. ProxyDHCP (the default) coexists with the
// site's DHCP server: it answers only PXE clients, offers no address, and
// answers ProxyDHCPREQUESTs on port 4011. FullDHCP hands out addresses from
// a range, for an isolated network, and keeps leases in memory and in a
// file. Both listen on 0.0.0.0:67 bound to one interface (SO_BINDTODEVICE).
//
//	srv, err := bootserver.Start(bootserver.Options{Dir: "out/site/pxe", Interface: "eth1", Logger: log})
//	...
//	err = srv.Serve(ctx) // until ctx is cancelled
package bootserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"pack.ag/tftp"
)

// Options configures a boot server. Only Dir is required (and Interface
// unless DHCP is NoDHCP).
type Options struct {
	// Dir is the PXE bundle served over HTTP: kernel, initrd, OS image,
	// the boot script and node configs.
	Dir string
	// BootScript is the iPXE script's path inside Dir (default "boot.ipxe").
	BootScript string
	// TFTPDir holds the iPXE binaries (default /usr/lib/ipxe).
	TFTPDir string
	// Interface is the network interface DHCP is bound to.
	Interface string
	// ServerIP is the address clients reach this server on (default: the
	// first IPv4 address of Interface).
	ServerIP netip.Addr
	// HTTPAddr and TFTPAddr are listen addresses (defaults ":8080", ":69").
	HTTPAddr, TFTPAddr string
	// DHCP is the DHCP mode (default ProxyDHCP).
	DHCP DHCPMode
	// Range is the address range of FullDHCP.
	Range Range
	// Router and DNS are optional FullDHCP options 3 and 6.
	Router netip.Addr
	DNS    []netip.Addr
	// LeaseTime is the FullDHCP lease duration (default 1h).
	LeaseTime time.Duration
	// LeaseFile keeps FullDHCP leases across restarts ("" keeps them in memory only).
	LeaseFile string
	// Logger gets one line per request (default: discard).
	Logger *slog.Logger
	// Files are served over HTTP besides Dir's, by path ("/os.squashfs"):
	// content that is not a file of its own, such as the first bytes of
	// a partition.
	Files map[string]File
	// WrapHTTP, if set, wraps the bundle's HTTP handler: for access
	// control or logging in front of it, or to inject faults in tests.
	WrapHTTP func(http.Handler) http.Handler
}

// DefaultTFTPDir is where Debian's `ipxe` package installs the binaries.
const DefaultTFTPDir = "/usr/lib/ipxe"

// Server is a started boot server: its sockets are bound.
type Server struct {
	opts      Options
	log       *slog.Logger
	http      *http.Server
	httpLn    net.Listener
	tftp      *tftp.Server
	tftpConn  *net.UDPConn
	dhcp      []*server4.Server
	scriptURL string
}

// Start checks opts and binds every socket, so that a port in use or a
// missing interface is reported before anything is served.
func Start(opts Options) (*Server, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	var mask net.IPMask
	if opts.DHCP != NoDHCP || !opts.ServerIP.IsValid() {
		if opts.ServerIP, mask, err = interfaceAddr(opts.Interface, opts.ServerIP); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: opts, log: opts.Logger}
	if s.httpLn, err = net.Listen("tcp", opts.HTTPAddr); err != nil {
		return nil, fmt.Errorf("boot server: listen for HTTP: %w", err)
	}
	httpPort := s.httpLn.Addr().(*net.TCPAddr).Port
	s.scriptURL = "http://" + net.JoinHostPort(opts.ServerIP.String(), strconv.Itoa(httpPort)) + "/" + opts.BootScript
	var handler http.Handler = &bundleHandler{dir: opts.Dir, files: opts.Files, log: s.log}
	if opts.WrapHTTP != nil {
		handler = opts.WrapHTTP(handler)
	}
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	if err := s.startTFTP(); err != nil {
		return nil, errors.Join(err, s.close())
	}
	if opts.DHCP != NoDHCP {
		if err := s.startDHCP(mask); err != nil {
			return nil, errors.Join(err, s.close())
		}
	}
	return s, nil
}

func withDefaults(o Options) (Options, error) {
	if o.Dir == "" {
		return o, errors.New("boot server: no PXE bundle directory given")
	}
	if info, err := os.Stat(o.Dir); err != nil || !info.IsDir() {
		return o, fmt.Errorf("boot server: PXE bundle %s is not a directory", o.Dir)
	}
	if o.BootScript == "" {
		o.BootScript = "boot.ipxe"
	}
	if o.TFTPDir == "" {
		o.TFTPDir = DefaultTFTPDir
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":8080"
	}
	if o.TFTPAddr == "" {
		o.TFTPAddr = ":69"
	}
	if o.DHCP == "" {
		o.DHCP = ProxyDHCP
	}
	if o.LeaseTime == 0 {
		o.LeaseTime = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch o.DHCP {
	case ProxyDHCP, NoDHCP:
	case FullDHCP:
		if !o.Range.First.IsValid() {
			return o, errors.New("boot server: full DHCP needs an address range")
		}
	default:
		return o, fmt.Errorf("boot server: unknown DHCP mode %q (want proxy, full or off)", o.DHCP)
	}
	if o.DHCP != NoDHCP && o.Interface == "" {
		return o, errors.New("boot server: DHCP needs an interface to bind to")
	}
	return o, nil
}

// interfaceAddr finds the IPv4 address (want, or else the first) and its
// netmask on the named interface.
func interfaceAddr(name string, want netip.Addr) (netip.Addr, net.IPMask, error) {
	if name == "" {
		return want, nil, errors.New("boot server: give an interface or the server address clients should use")
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return want, nil, fmt.Errorf("boot server: interface %s: %w", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return want, nil, fmt.Errorf("boot server: addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil {
			continue
		}
		ip, _ := netip.AddrFromSlice(ipn.IP.To4())
		if !want.IsValid() || want == ip {
			return ip, ipn.Mask, nil
		}
	}
	if want.IsValid() {
		return want, nil, fmt.Errorf("boot server: interface %s has no address %s", name, want)
	}
	return want, nil, fmt.Errorf("boot server: interface %s has no IPv4 address", name)
}

func (s *Server) startTFTP() error {
	addr, err := net.ResolveUDPAddr("udp4", s.opts.TFTPAddr)
	if err != nil {
		return fmt.Errorf("boot server: TFTP address %s: %w", s.opts.TFTPAddr, err)
	}
	if s.tftpConn, err = net.ListenUDP("udp4", addr); err != nil {
		return fmt.Errorf("boot server: listen for TFTP: %w", err)
	}
	if s.tftp, err = tftp.NewServer(s.opts.TFTPAddr, tftp.ServerNet("udp4")); err != nil {
		return fmt.Errorf("boot server: TFTP: %w", err)
	}
	s.tftp.ReadHandler(&tftpHandler{dir: s.opts.TFTPDir, log: s.log})
	return nil
}

func (s *Server) startDHCP(mask net.IPMask) error {
	r := &responder{
		mode: s.opts.DHCP, serverIP: net.IP(s.opts.ServerIP.AsSlice()), mask: mask,
		scriptURL: s.scriptURL, leaseTime: s.opts.LeaseTime, log: s.log,
	}
	if s.opts.Router.IsValid() {
		r.router = net.IP(s.opts.Router.AsSlice())
	}
	for _, d := range s.opts.DNS {
		r.dns = append(r.dns, net.IP(d.AsSlice()))
	}
	if s.opts.DHCP == FullDHCP {
		subnet := net.IPNet{IP: r.serverIP.Mask(mask), Mask: mask}
		for _, a := range []netip.Addr{s.opts.Range.First, s.opts.Range.Last} {
			if !subnet.Contains(net.IP(a.AsSlice())) {
				return fmt.Errorf("boot server: DHCP range %s is not inside %s's network %s", s.opts.Range, s.opts.Interface, subnet.String())
			}
		}
		pool, err := newLeasePool(s.opts.Range, s.opts.ServerIP, s.opts.LeaseTime, s.opts.LeaseFile)
		if err != nil {
			return err
		}
		r.pool = pool
	}
	ports := []int{dhcpv4.ServerPort}
	if s.opts.DHCP == ProxyDHCP {
		ports = append(ports, PXEPort)
	}
	for _, port := range ports {
		conn, err := server4.NewIPv4UDPConn(s.opts.Interface, &net.UDPAddr{IP: net.IPv4zero, Port: port})
		if err != nil {
			return fmt.Errorf("boot server: listen for DHCP on %s port %d: %w", s.opts.Interface, port, err)
		}
		srv, err := server4.NewServer("", nil, s.dhcpHandler(r, port), server4.WithConn(conn))
		if err != nil {
			conn.Close()
			return fmt.Errorf("boot server: DHCP on port %d: %w", port, err)
		}
		s.dhcp = append(s.dhcp, srv)
	}
	return nil
}

func (s *Server) dhcpHandler(r *responder, port int) server4.Handler {
	return func(conn net.PacketConn, peer net.Addr, req *dhcpv4.DHCPv4) {
		resp, err := r.reply(req, port)
		if err != nil {
			s.log.Error("dhcp", "mac", req.ClientHWAddr.String(), "error", err)
			return
		}
		if resp == nil {
			return
		}
		if _, err := conn.WriteTo(resp.ToBytes(), peer); err != nil {
			s.log.Error("dhcp: send reply", "mac", req.ClientHWAddr.String(), "to", peer.String(), "error", err)
		}
	}
}

// BootScriptURL is the HTTP URL iPXE clients are sent to.
func (s *Server) BootScriptURL() string { return s.scriptURL }

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// TFTPAddr is the bound TFTP address.
func (s *Server) TFTPAddr() net.Addr { return s.tftpConn.LocalAddr() }

// Serve serves until ctx is cancelled or a listener fails, then closes
// every socket. It returns nil after a cancel.
func (s *Server) Serve(ctx context.Context) error {
	s.log.Info("boot server ready", "http", s.httpLn.Addr().String(), "tftp", s.tftpConn.LocalAddr().String(),
		"dhcp", string(s.opts.DHCP), "interface", s.opts.Interface, "boot_script", s.scriptURL)
	errs := make(chan error, 2+len(s.dhcp))
	var wg sync.WaitGroup
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("boot server: %s: %w", name, err)
			}
		}()
	}
	run("HTTP", func() error {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	run("TFTP", func() error { return s.tftp.Serve(s.tftpConn) })
	for _, d := range s.dhcp {
		run("DHCP", d.Serve)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	closeErr := s.close()
	wg.Wait()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return closeErr
}

func (s *Server) close() error {
	var errs []error
	if s.http != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.http.Shutdown(shutdown); err != nil {
			errs = append(errs, err)
		}
		s.httpLn.Close()
	}
	if s.tftp != nil && s.tftp.Connected() {
		s.tftp.Close() // closes tftpConn too
	} else if s.tftpConn != nil {
		s.tftpConn.Close()
	}
	for _, d := range s.dhcp {
		d.Close()
	}
	return errors.Join(errs...)
}
