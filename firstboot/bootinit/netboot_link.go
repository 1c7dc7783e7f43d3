package bootinit

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"
)

// Network bring-up of a netbooting node: wait for Ethernet interfaces (the
// NIC modules are in the initramfs module list), set them up, and take the
// first DHCP lease any of them gets. The address and netmask are set with
// ioctls (the kernel adds the subnet route), and a default route through
// the lease's router, so a boot server behind a router (a DHCP relay on
// the node's network) is reached too.

const (
	linkWait       = 30 * time.Second
	dhcpTimeout    = 10 * time.Second
	dhcpRounds     = 6
	arphrdEthernet = "1"
)

// bringUpNetwork configures the first Ethernet interface under sysNet
// (/sys/class/net) that gets a DHCP lease.
func bringUpNetwork(ctx context.Context, lg *log.Logger, sysNet string) error {
	ifaces, err := waitEthernet(ctx, sysNet)
	if err != nil {
		return err
	}
	lg.Printf("network interfaces: %s", strings.Join(ifaces, " "))
	for _, name := range ifaces {
		if err := setLinkUp(name); err != nil {
			lg.Printf("%s: %v", name, err)
		}
	}
	var errs []error
	for round := 1; round <= dhcpRounds; round++ {
		for _, name := range ifaces {
			lg.Printf("DHCP on %s (round %d/%d)", name, round, dhcpRounds)
			ip, mask, router, err := dhcpLease(ctx, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("DHCP on %s: %w", name, err))
				lg.Printf("DHCP on %s: %v", name, err)
				continue
			}
			if err := setAddress(name, ip, mask); err != nil {
				return fmt.Errorf("configure %s: %w", name, err)
			}
			ones, _ := net.IPMask(mask).Size()
			lg.Printf("%s: %s/%d", name, net.IP(ip), ones)
			if router != nil {
				// Not fatal: a boot server on this subnet needs no route.
				if err := addDefaultRoute(router); err != nil {
					lg.Printf("%s: default route via %s: %v", name, net.IP(router), err)
				} else {
					lg.Printf("%s: default route via %s", name, net.IP(router))
				}
			}
			return nil
		}
	}
	return fmt.Errorf("no DHCP lease on %s: %w", strings.Join(ifaces, ", "), errors.Join(errs...))
}

// waitEthernet waits until sysNet lists at least one Ethernet interface
// (type 1, not loopback) and returns them sorted by name.
func waitEthernet(ctx context.Context, sysNet string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, linkWait)
	defer cancel()
	for {
		entries, _ := os.ReadDir(sysNet)
		var names []string
		for _, e := range entries {
			typ, err := os.ReadFile(filepath.Join(sysNet, e.Name(), "type"))
			if err == nil && strings.TrimSpace(string(typ)) == arphrdEthernet && e.Name() != "lo" {
				names = append(names, e.Name())
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			return names, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no Ethernet interface in %s after %s (is the NIC's driver in the initramfs?)", sysNet, linkWait)
		case <-time.After(devicePoll):
		}
	}
}

// dhcpLease takes a lease on the interface name: its address, netmask and
// first router (nil when the lease names none).
func dhcpLease(ctx context.Context, name string) (ip, mask, router []byte, err error) {
	c, err := nclient4.New(name, nclient4.WithTimeout(dhcpTimeout), nclient4.WithRetry(2))
	if err != nil {
		return nil, nil, nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*dhcpTimeout)
	defer cancel()
	lease, err := c.Request(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	ack := lease.ACK
	mask = ack.SubnetMask()
	if mask == nil {
		mask = net.IP(ack.YourIPAddr.To4()).DefaultMask()
	}
	if routers := ack.Router(); len(routers) > 0 && routers[0].To4() != nil && !routers[0].IsUnspecified() {
		router = routers[0].To4()
	}
	return ack.YourIPAddr.To4(), mask, router, nil
}

// rtentry is the kernel's struct rtentry (linux/route.h) on 64-bit
// architectures, for SIOCADDRT. Go lays the fields out as C does here.
type rtentry struct {
	pad1    uint64
	dst     unix.RawSockaddrInet4
	gateway unix.RawSockaddrInet4
	genmask unix.RawSockaddrInet4
	flags   uint16
	pad2    int16
	pad3    uint64
	pad4    uintptr
	metric  int16
	dev     uintptr // char *; 0: the kernel picks the interface by the gateway
	mtu     uint64
	window  uint64
	irtt    uint16
}

// addDefaultRoute adds a default route through gw, which must be on the
// subnet of an interface that is up (SIOCADDRT, as route(8) does).
func addDefaultRoute(gw net.IP) error {
	rt := rtentry{flags: unix.RTF_UP | unix.RTF_GATEWAY}
	rt.dst.Family, rt.genmask.Family, rt.gateway.Family = unix.AF_INET, unix.AF_INET, unix.AF_INET
	copy(rt.gateway.Addr[:], gw.To4())
	return withInetSocket(func(fd int) error {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCADDRT, uintptr(unsafe.Pointer(&rt))); errno != 0 {
			return errno
		}
		return nil
	})
}

// withInetSocket runs f with an AF_INET datagram socket, the handle the
// interface and route ioctls take.
func withInetSocket(f func(fd int) error) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return f(fd)
}

func ifreqIoctl(name string, req uint, set func(*unix.Ifreq) error) error {
	return withInetSocket(func(fd int) error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		if err := set(ifr); err != nil {
			return err
		}
		return unix.IoctlIfreq(fd, req, ifr)
	})
}

func setLinkUp(name string) error {
	return withInetSocket(func(fd int) error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			return fmt.Errorf("flags: %w", err)
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
		return nil
	})
}

func setAddress(name string, ip, mask []byte) error {
	if err := ifreqIoctl(name, unix.SIOCSIFADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr(ip) }); err != nil {
		return fmt.Errorf("address %s: %w", net.IP(ip), err)
	}
	if err := ifreqIoctl(name, unix.SIOCSIFNETMASK, func(r *unix.Ifreq) error { return r.SetInet4Addr(mask) }); err != nil {
		return fmt.Errorf("netmask %s: %w", net.IP(mask), err)
	}
	return nil
}

// mountTmpfs mounts a tmpfs with the given options on dir.
func mountTmpfs(dir, data string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}
