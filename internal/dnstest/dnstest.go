// Package dnstest is a DNS server for tests: it answers A questions for
// the names it is given over UDP, NXDOMAIN for any other name, and counts
// the questions it got, so a test can give a node (a VM on a bridge in a
// network namespace, or a check pointed at 127.0.0.1) a name only the test
// knows. It is no resolver: it never recurses and serves no other type.
//
//	conn, _ := net.ListenPacket("udp4", "127.0.0.1:0")
//	srv := dnstest.Serve(conn, map[string]netip.Addr{"k3s-api.site.test.": addr})
//	defer srv.Close()
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers on one UDP socket until Close.
type Server struct {
	conn    net.PacketConn
	records map[string]netip.Addr
	mu      sync.Mutex
	asked   map[string]int
	done    chan struct{}
}

// Serve answers the DNS questions that reach conn from records, keyed by
// fully qualified name ("name.example." — any case), in a goroutine.
func Serve(conn net.PacketConn, records map[string]netip.Addr) *Server {
	s := &Server{conn: conn, records: map[string]netip.Addr{}, asked: map[string]int{}, done: make(chan struct{})}
	for name, a := range records {
		s.records[strings.ToLower(name)] = a
	}
	go s.serve()
	return s
}

// Addr is the address the server answers on.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Asked is how many questions for name (fully qualified) it got.
func (s *Server) Asked(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[strings.ToLower(name)]
}

// Close stops the server and closes its socket.
func (s *Server) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, peer, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply, ok := s.reply(buf[:n]); ok {
			s.conn.WriteTo(reply, peer)
		}
	}
}

// reply answers one query; ok is false for what is not a query.
func (s *Server) reply(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := strings.ToLower(q.Name.String())
	s.mu.Lock()
	s.asked[name]++
	s.mu.Unlock()
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired},
		Questions: []dnsmessage.Question{q},
	}
	a, known := s.records[name]
	switch {
	case !known:
		resp.Header.RCode = dnsmessage.RCodeNameError
	case q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET:
		resp.Answers = []dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
			Body:   &dnsmessage.AResource{A: a.As4()},
		}}
	}
	out, err := resp.Pack()
	return out, err == nil
}
