package bootserver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
)

// Range is an inclusive range of IPv4 addresses handed out in full-DHCP mode.
type Range struct {
	First, Last netip.Addr
}

// ParseRange reads "10.0.0.100-10.0.0.200".
func ParseRange(s string) (Range, error) {
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		return Range{}, fmt.Errorf("dhcp range %q: want FIRST-LAST, e.g. 10.0.0.100-10.0.0.200", s)
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(lo))
	last, err2 := netip.ParseAddr(strings.TrimSpace(hi))
	if err := errors.Join(err1, err2); err != nil {
		return Range{}, fmt.Errorf("dhcp range %q: %w", s, err)
	}
	if !first.Is4() || !last.Is4() || last.Less(first) {
		return Range{}, fmt.Errorf("dhcp range %q: want two IPv4 addresses, the first not above the last", s)
	}
	return Range{First: first, Last: last}, nil
}

func (r Range) String() string { return r.First.String() + "-" + r.Last.String() }

func (r Range) contains(a netip.Addr) bool {
	return !a.Less(r.First) && !r.Last.Less(a)
}

// Lease is one address given to one client.
type Lease struct {
	MAC     string    `json:"mac"`
	IP      string    `json:"ip"`
	Expires time.Time `json:"expires"`
}

// leasePool hands out addresses from a range and keeps them in memory and,
// when path is set, in a JSON file rewritten atomically on every change.
type leasePool struct {
	mu       sync.Mutex
	rng      Range
	reserved netip.Addr // the server's own address, never handed out
	duration time.Duration
	path     string
	now      func() time.Time
	byMAC    map[string]Lease
}

func newLeasePool(rng Range, reserved netip.Addr, duration time.Duration, path string) (*leasePool, error) {
	p := &leasePool{rng: rng, reserved: reserved, duration: duration, path: path, now: time.Now, byMAC: map[string]Lease{}}
	if path == "" {
		return p, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dhcp leases: %w", err)
	}
	var leases []Lease
	if err := json.Unmarshal(data, &leases); err != nil {
		return nil, fmt.Errorf("read dhcp leases %s: %w", path, err)
	}
	for _, l := range leases {
		if a, err := netip.ParseAddr(l.IP); err == nil && rng.contains(a) {
			p.byMAC[l.MAC] = l
		}
	}
	return p, nil
}

// offer returns the address for mac: its current lease, else the first free
// address. It does not record anything.
func (p *leasePool) offer(mac net.HardwareAddr) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.byMAC[mac.String()]; ok {
		return netip.MustParseAddr(l.IP), nil
	}
	taken := map[netip.Addr]bool{p.reserved: true}
	now := p.now()
	for _, l := range p.byMAC {
		if l.Expires.After(now) {
			taken[netip.MustParseAddr(l.IP)] = true
		}
	}
	for a := p.rng.First; p.rng.contains(a); a = a.Next() {
		if !taken[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("dhcp range %s is exhausted", p.rng)
}

// commit records that mac holds ip for the lease duration. It fails when ip
// is outside the range or leased to another client.
func (p *leasePool) commit(mac net.HardwareAddr, ip netip.Addr) (Lease, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.rng.contains(ip) || ip == p.reserved {
		return Lease{}, fmt.Errorf("%s is not in the dhcp range %s", ip, p.rng)
	}
	now := p.now()
	for m, l := range p.byMAC {
		if l.IP == ip.String() && m != mac.String() && l.Expires.After(now) {
			return Lease{}, fmt.Errorf("%s is leased to %s", ip, m)
		}
	}
	l := Lease{MAC: mac.String(), IP: ip.String(), Expires: now.Add(p.duration).UTC().Truncate(time.Second)}
	p.byMAC[l.MAC] = l
	return l, p.saveLocked()
}

// release forgets mac's lease.
func (p *leasePool) release(mac net.HardwareAddr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byMAC[mac.String()]; !ok {
		return nil
	}
	delete(p.byMAC, mac.String())
	return p.saveLocked()
}

// leases returns the current leases sorted by address.
func (p *leasePool) leases() []Lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sortedLocked()
}

func (p *leasePool) sortedLocked() []Lease {
	out := make([]Lease, 0, len(p.byMAC))
	for _, l := range p.byMAC {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return ipKey(out[i].IP) < ipKey(out[j].IP) })
	return out
}

func ipKey(s string) uint32 {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func (p *leasePool) saveLocked() error {
	if p.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(p.sortedLocked(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode dhcp leases: %w", err)
	}
	if err := atomicfile.WriteFile(p.path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save dhcp leases: %w", err)
	}
	return nil
}
