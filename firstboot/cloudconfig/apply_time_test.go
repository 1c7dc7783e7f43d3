package cloudconfig

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyTimezone(t *testing.T) {
	root := newRoot(t)
	// The image's /etc/localtime may be a plain copy: it becomes a link.
	if err := os.WriteFile(filepath.Join(root, "etc/localtime"), []byte("TZif2 copy"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tz := range []string{"Europe/Berlin", "Europe/Berlin", "UTC"} {
		if err := ApplyTimezone(root, tz); err != nil {
			t.Fatal(err)
		}
		target, err := os.Readlink(filepath.Join(root, "etc/localtime"))
		if err != nil || target != "/usr/share/zoneinfo/"+tz {
			t.Errorf("%s: localtime -> %q, %v", tz, target, err)
		}
		checkFile(t, filepath.Join(root, "etc/timezone"), tz+"\n", 0o644, 0, 0)
	}
	first := snapshot(t, root)
	if err := ApplyTimezone(root, "UTC"); err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshots(first, snapshot(t, root)); d != "" {
		t.Errorf("second apply changed:\n%s", d)
	}
	noLeftovers(t, root)
}

func TestApplyTimezoneErrors(t *testing.T) {
	root := newRoot(t)
	for _, tc := range []struct{ tz, err string }{
		{"Mars/Olympus", "timezone Mars/Olympus: stat ROOT/usr/share/zoneinfo/Mars/Olympus: no such file or directory"},
		{"Europe", "timezone Europe: ROOT/usr/share/zoneinfo/Europe is not a zoneinfo file"},
		{"../../etc/passwd", `timezone "../../etc/passwd": not a zoneinfo name`},
	} {
		err := ApplyTimezone(root, tc.tz)
		want := strings.ReplaceAll(tc.err, "ROOT", root)
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v\nwant %s", tc.tz, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/localtime")); !os.IsNotExist(err) {
		t.Errorf("localtime touched by a failed apply: %v", err)
	}
}

func TestApplyNTP(t *testing.T) {
	root := newRoot(t)
	dropIn := filepath.Join(root, TimesyncdDropIn)
	servers := &NTP{Enabled: true, Client: "auto", Servers: []string{"10.0.0.1", "ntp.lab"}, Pools: []string{"pool.lab"}}
	const serversFile = "# Written by firstboot from cloud-config ntp; see timesyncd.conf(5).\n[Time]\nNTP=10.0.0.1 ntp.lab pool.lab\n"
	for i, step := range []struct {
		ntp     *NTP
		changed bool
		want    string // "" means no drop-in
	}{
		{nil, false, ""},
		{servers, true, serversFile},
		{servers, false, serversFile},
		{nil, false, serversFile},
		{&NTP{Enabled: true, Client: "systemd-timesyncd", Pools: []string{"pool.lab"}}, true, "# Written by firstboot from cloud-config ntp; see timesyncd.conf(5).\n[Time]\nNTP=pool.lab\n"},
		{&NTP{Enabled: false, Servers: []string{"10.0.0.1"}}, true, ""},
		{&NTP{Enabled: false}, false, ""},
		{servers, true, serversFile},
		{&NTP{Enabled: true}, true, ""},
	} {
		changed, err := ApplyNTP(root, step.ntp)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if changed != step.changed {
			t.Errorf("step %d: changed = %v, want %v", i, changed, step.changed)
		}
		if step.want == "" {
			if _, err := os.Lstat(dropIn); !os.IsNotExist(err) {
				t.Errorf("step %d: drop-in exists: %v", i, err)
			}
			continue
		}
		checkFile(t, dropIn, step.want, 0o644, 0, 0)
	}
	checkMode(t, filepath.Dir(dropIn), 0o755|fs.ModeDir, 0, 0)
	noLeftovers(t, root)
}

func TestApplyNTPErrors(t *testing.T) {
	root := newRoot(t)
	for _, tc := range []struct {
		ntp *NTP
		err string
	}{
		{&NTP{Enabled: true, Client: "chrony", Servers: []string{"a"}}, `ntp: client "chrony" is not supported (only systemd-timesyncd)`},
		{&NTP{Enabled: true, Servers: []string{"a b"}}, `ntp: "a b" is not a host name or address`},
	} {
		changed, err := ApplyNTP(root, tc.ntp)
		if err == nil || err.Error() != tc.err || changed {
			t.Errorf("%+v: %v, %v; want false, %s", tc.ntp, changed, err, tc.err)
		}
	}
}
