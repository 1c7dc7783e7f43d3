package cloudconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ZoneinfoDir is where the image keeps the time zone database.
const ZoneinfoDir = "/usr/share/zoneinfo"

// TimesyncdDropIn is the systemd-timesyncd drop-in ApplyNTP owns.
const TimesyncdDropIn = "/etc/systemd/timesyncd.conf.d/50-cloud-config.conf"

// ApplyTimezone sets the time zone as cloud-init does on Debian: it checks
// that root has ZoneinfoDir/<tz>, points /etc/localtime at it with an
// absolute symbolic link and writes the name to /etc/timezone.
func ApplyTimezone(root, tz string) error {
	if !validZoneName(tz) {
		return fmt.Errorf("timezone %q: not a zoneinfo name", tz)
	}
	zone := filepath.Join(ZoneinfoDir, tz)
	info, err := os.Stat(filepath.Join(root, zone))
	if err != nil {
		return fmt.Errorf("timezone %s: %w", tz, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("timezone %s: %s is not a zoneinfo file", tz, filepath.Join(root, zone))
	}
	if _, err := symlinkAtomic(zone, filepath.Join(root, "/etc/localtime")); err != nil {
		return fmt.Errorf("timezone %s: %w", tz, err)
	}
	path := filepath.Join(root, "/etc/timezone")
	want := []byte(tz + "\n")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want) {
		return nil
	}
	if err := writeFileAtomic(path, want, 0o644, owner{0, 0}); err != nil {
		return fmt.Errorf("timezone %s: %w", tz, err)
	}
	return nil
}

// ApplyNTP writes TimesyncdDropIn with NTP= the servers and then the pools
// (cloud-init's timesyncd template; a pool is a host name like any other to
// timesyncd) and reports whether the file changed, so the caller knows to
// restart systemd-timesyncd. With ntp nil nothing happens. When ntp is
// disabled or names no server or pool, the drop-in is removed (if an
// earlier run wrote it) and timesyncd is left as the image configures it.
func ApplyNTP(root string, ntp *NTP) (changed bool, err error) {
	if ntp == nil {
		return false, nil
	}
	if ntp.Client != "" && ntp.Client != NTPClientAuto && ntp.Client != NTPClientTimesyncd {
		return false, fmt.Errorf("ntp: client %q is not supported (only %s)", ntp.Client, NTPClientTimesyncd)
	}
	path := filepath.Join(root, TimesyncdDropIn)
	hosts := append(append([]string{}, ntp.Servers...), ntp.Pools...)
	if !ntp.Enabled || len(hosts) == 0 {
		err := os.Remove(path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("ntp: remove %s: %w", path, err)
		}
		return true, syncDir(filepath.Dir(path))
	}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " \t\r\n") {
			return false, fmt.Errorf("ntp: %q is not a host name or address", h)
		}
	}
	changed, err = WriteTimesyncdDropIn(root, TimesyncdDropIn, "cloud-config ntp", hosts)
	if err != nil {
		return false, fmt.Errorf("ntp: %w", err)
	}
	return changed, nil
}

// WriteTimesyncdDropIn writes the systemd-timesyncd drop-in file (a path
// of the host) under root with NTP= hosts, its first line saying it came
// from origin, and reports whether the file changed, so the caller knows
// to restart systemd-timesyncd. The hosts must be checked already: each is
// written on the NTP= line as it is.
func WriteTimesyncdDropIn(root, file, origin string, hosts []string) (changed bool, err error) {
	path := filepath.Join(root, file)
	want := []byte("# Written by firstboot from " + origin + "; see timesyncd.conf(5).\n[Time]\nNTP=" + strings.Join(hosts, " ") + "\n")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want) {
		return false, nil
	}
	if err := writeFileAtomic(path, want, 0o644, owner{0, 0}); err != nil {
		return false, err
	}
	return true, nil
}
