package bootinit

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		cmdline string
		want    Config
		wantErr string
	}{
		{
			cmdline: "console=ttyS0 appliance.os=PARTLABEL=OS-A appliance.state=PARTLABEL=STATE appliance.rescue=1 quiet",
			want:    Config{OS: Spec{"PARTLABEL", "OS-A"}, State: Spec{"PARTLABEL", "STATE"}, Rescue: true},
		},
		{
			cmdline: "appliance.os=LABEL=OSIMG appliance.state=tmpfs appliance.debug=1",
			want:    Config{OS: Spec{"LABEL", "OSIMG"}, StateTmpfs: true, Debug: true},
		},
		{
			cmdline: "appliance.os=/dev/vda2\n",
			want:    Config{OS: Spec{"PATH", "/dev/vda2"}, StateTmpfs: true},
		},
		{
			cmdline: "appliance.os=ISO=ML_LAB:/appliance/os.squashfs appliance.state=tmpfs",
			want:    Config{OS: Spec{"ISO", "ML_LAB"}, OSFile: "/appliance/os.squashfs", StateTmpfs: true},
		},
		{cmdline: "appliance.os=ISO=ML_LAB", wantErr: `appliance.os: "ISO=ML_LAB": want ISO=<volume id>:<absolute path of the OS image on it>`},
		{cmdline: "appliance.os=ISO=:/os.squashfs", wantErr: `appliance.os: "ISO=:/os.squashfs": want ISO=<volume id>:<absolute path of the OS image on it>`},
		{cmdline: "appliance.os=ISO=ML_LAB:os.squashfs", wantErr: `appliance.os: "ISO=ML_LAB:os.squashfs": want ISO=<volume id>:<absolute path of the OS image on it>`},
		{cmdline: "appliance.os=ISO=ML_LAB:/a/../../os.squashfs", wantErr: `appliance.os: "ISO=ML_LAB:/a/../../os.squashfs": want ISO=<volume id>:<absolute path of the OS image on it>`},
		{cmdline: "appliance.os=PARTLABEL=OS-A appliance.state=ISO=X:/state", wantErr: `appliance.state: device "ISO=X:/state": want PARTLABEL=<name>, LABEL=<name> or /dev/<name>`},
		{cmdline: "root=/dev/sda1 ro", wantErr: "kernel command line has no appliance.os="},
		{cmdline: "appliance.os=UUID=1234", wantErr: `appliance.os: device "UUID=1234": want PARTLABEL=<name>, LABEL=<name> or /dev/<name>`},
		{cmdline: "appliance.os=PARTLABEL=OS-A appliance.state=STATE", wantErr: `appliance.state: device "STATE": want PARTLABEL=<name>, LABEL=<name> or /dev/<name>`},
		{cmdline: "appliance.os=PARTLABEL=", wantErr: `appliance.os: device "PARTLABEL=": want PARTLABEL=<name>, LABEL=<name> or /dev/<name>`},
	}
	for _, tt := range tests {
		got, err := ParseConfig(tt.cmdline)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseConfig(%q) error = %v, want %q", tt.cmdline, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseConfig(%q) = %+v, %v; want %+v", tt.cmdline, got, err, tt.want)
		}
	}
	if s := (Spec{"PARTLABEL", "OS-A"}).String(); s != "PARTLABEL=OS-A" {
		t.Errorf("Spec.String() = %q", s)
	}
}

func TestParseConfigStateDisk(t *testing.T) {
	c, err := ParseConfig("appliance.os=ISO=ML_LAB:/appliance/os.squashfs appliance.state=disk:/dev/sdb,force")
	if err != nil || c.StateDisk == nil || *c.StateDisk != (bootparam.InstallTarget{Device: "/dev/sdb", Force: true}) || c.StateTmpfs {
		t.Errorf("live ISO with a state disk: %+v, %v", c, err)
	}
	for cmdline, want := range map[string]string{
		"appliance.os=url:os.squashfs appliance.os.base=http://h/boot.ipxe appliance.os.sha256=" + strings.Repeat("0", 64) + " appliance.state=disk:sdb": `appliance.state=disk:sdb: want auto, /dev/disk/by-id/<name> or /dev/<name>, optionally followed by ,force`,
		"appliance.os=PARTLABEL=OS-A appliance.state=disk:auto": `appliance.state=disk:auto is for live and netbooted nodes; a disk-installed node has STATE on its own disk (appliance.state=PARTLABEL=STATE)`,
	} {
		if _, err := ParseConfig(cmdline); err == nil || err.Error() != want {
			t.Errorf("ParseConfig(%q) error = %v, want %q", cmdline, err, want)
		}
	}
}
