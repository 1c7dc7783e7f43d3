package hostcheck

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"
)

// answer is a name server's reply: its response code and the IPv4
// addresses it gave.
type answer struct {
	rcode dnsmessage.RCode
	addrs []netip.Addr
}

// rootQuestion is asked when there is no name to look up: the root zone's
// name servers. Any reply, even a refusal, shows the server answers.
const rootQuestion = "."

// ask sends server one question, for name's A records, or for the root's
// NS records when name is rootQuestion, and returns its reply. It tries
// twice, each attempt bounded by Options.DNSTimeout.
func ask(ctx context.Context, o Options, server netip.AddrPort, name string) (answer, error) {
	qname, err := dnsmessage.NewName(fqdn(name))
	if err != nil {
		return answer{}, fmt.Errorf("ask %s for %s: %w", server, name, err)
	}
	qtype := dnsmessage.TypeA
	if name == rootQuestion {
		qtype = dnsmessage.TypeNS
	}
	var last error
	for range 2 {
		a, err := askOnce(ctx, o, server, dnsmessage.Question{Name: qname, Type: qtype, Class: dnsmessage.ClassINET})
		if err == nil || ctx.Err() != nil {
			return a, err
		}
		last = err
	}
	return answer{}, last
}

func fqdn(name string) string {
	if name == "" || name[len(name)-1] != '.' {
		return name + "."
	}
	return name
}

func askOnce(ctx context.Context, o Options, server netip.AddrPort, q dnsmessage.Question) (answer, error) {
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return answer{}, err
	}
	id := binary.BigEndian.Uint16(idb[:])
	query, err := (&dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{q},
	}).Pack()
	if err != nil {
		return answer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.DNSTimeout)
	defer cancel()
	conn, err := o.Dial(ctx, server)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := conn.Write(query); err != nil {
		return answer{}, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return answer{}, err
		}
		a, err := parseAnswer(buf[:n], id)
		if errors.Is(err, errOtherMessage) {
			continue // not the reply to this question: keep waiting
		}
		return a, err
	}
}

// dialUDP is the default Options.Dial.
func dialUDP(ctx context.Context, server netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "udp", server.String())
}

var errOtherMessage = errors.New("not the reply to the question")

// parseAnswer reads a reply to the query with id.
func parseAnswer(msg []byte, id uint16) (answer, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return answer{}, fmt.Errorf("bad reply: %w", err)
	}
	if h.ID != id || !h.Response {
		return answer{}, errOtherMessage
	}
	a := answer{rcode: h.RCode}
	if err := p.SkipAllQuestions(); err != nil {
		return answer{}, fmt.Errorf("bad reply: %w", err)
	}
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return a, nil
		}
		if err != nil {
			return answer{}, fmt.Errorf("bad reply: %w", err)
		}
		if rh.Type != dnsmessage.TypeA {
			if err := p.SkipAnswer(); err != nil {
				return answer{}, fmt.Errorf("bad reply: %w", err)
			}
			continue
		}
		r, err := p.AResource()
		if err != nil {
			return answer{}, fmt.Errorf("bad reply: %w", err)
		}
		a.addrs = append(a.addrs, netip.AddrFrom4(r.A))
	}
}
