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

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"
)

// Network bring-up of a netbooting node: wait for Ethernet interfaces (the
// NIC modules are in the initramfs module list), set them up, and take the
// first DHCP lease any of them gets. The address and netmask are set with
// ioctls (the kernel adds the subnet route); a default route is not set,
// so the boot server must be on the node's subnet, as PXE needs anyway.

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
			ip, mask, err := dhcpLease(ctx, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("DHCP on %s: %w", name, err))
				lg.Printf("DHCP on %s: %v", name, err)
				continue
			}
			if err := setAddress(name, ip, mask); err != nil {
				return fmt.Errorf("configure %s: %w", name, err)
			}
			ones, _ := net.IPMask(mask).Size()
			lg.Printf("%s: %s/%d", name, ip, ones)
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

func dhcpLease(ctx context.Context, name string) (ip, mask []byte, err error) {
	c, err := nclient4.New(name, nclient4.WithTimeout(dhcpTimeout), nclient4.WithRetry(2))
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*dhcpTimeout)
	defer cancel()
	lease, err := c.Request(ctx)
	if err != nil {
		return nil, nil, err
	}
	ack := lease.ACK
	mask = ack.SubnetMask()
	if mask == nil {
		mask = net.IP(ack.YourIPAddr.To4()).DefaultMask()
	}
	return ack.YourIPAddr.To4(), mask, nil
}

func ifreqIoctl(name string, req uint, set func(*unix.Ifreq) error) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := set(ifr); err != nil {
		return err
	}
	return unix.IoctlIfreq(fd, req, ifr)
}

func setLinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
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
