package bootparam

import "testing"

func TestParseInstallTarget(t *testing.T) {
	for _, c := range []struct {
		in, err string
		want    InstallTarget
	}{
		{in: "auto", want: InstallTarget{Device: "auto"}},
		{in: "/dev/sda,force", want: InstallTarget{Device: "/dev/sda", Force: true}},
		{in: "/dev/disk/by-id/virtio-x", want: InstallTarget{Device: "/dev/disk/by-id/virtio-x"}},
		{in: "sda", err: `appliance.install=sda: want auto, /dev/disk/by-id/<name> or /dev/<name>, optionally followed by ,force`},
		{in: "/dev/", err: `appliance.install=/dev/: want auto, /dev/disk/by-id/<name> or /dev/<name>, optionally followed by ,force`},
		{in: "auto,wipe", err: `appliance.install=auto,wipe: unknown option "wipe", want "force"`},
	} {
		got, err := ParseInstallTarget(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("ParseInstallTarget(%q) error %v, want %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseInstallTarget(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if got.String() != c.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), c.in)
		}
	}
}

func TestParseStateDisk(t *testing.T) {
	got, err := ParseStateDisk("/dev/vdb,force")
	if want := (InstallTarget{Device: "/dev/vdb", Force: true}); err != nil || got != want {
		t.Errorf("ParseStateDisk(/dev/vdb,force) = %+v, %v; want %+v", got, err, want)
	}
	_, err = ParseStateDisk("vdb")
	if want := `appliance.state=disk:vdb: want auto, /dev/disk/by-id/<name> or /dev/<name>, optionally followed by ,force`; err == nil || err.Error() != want {
		t.Errorf("ParseStateDisk(vdb) error %v, want %s", err, want)
	}
}

func TestParseDiskTargetRefusesHostileDevices(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"/dev/vda appliance.rescue=1 init=/bin/sh", `appliance.install: device "/dev/vda appliance.rescue=1 init=/bin/sh": a blank at byte 8: ` + DeviceRule},
		{"/dev/../root,force", `appliance.install: device "/dev/../root": not a clean path: ` + DeviceRule},
		{"/dev/sda\x1b[2J", `appliance.install: device "/dev/sda\x1b[2J": byte 0x1b at byte 8: ` + DeviceRule},
		{"sda\x1b[2J", `"appliance.install=sda\x1b[2J": want auto, /dev/disk/by-id/<name> or /dev/<name>, optionally followed by ,force`},
	} {
		if _, err := ParseInstallTarget(tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("ParseInstallTarget(%q) error %v, want %s", tc.in, err, tc.err)
		}
	}
	_, err := ParseStateDisk("/dev/vdb;reboot")
	if want := `appliance.state: device "/dev/vdb;reboot": ';' at byte 8: ` + DeviceRule; err == nil || err.Error() != want {
		t.Errorf("ParseStateDisk(/dev/vdb;reboot) error %v, want %s", err, want)
	}
}
