package iso

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// TestCmdlineRefusesHostileValues: isolinux.cfg's APPEND and the loader
// entry's options are one line each, and the kernel splits at blanks; the
// ISO's writer refuses every value outside its grammar, whoever calls it.
func TestCmdlineRefusesHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(*output.Inputs)
		opts Options
		want string
	}{
		{name: "state disk with arguments", opts: Options{State: "disk:/dev/vda appliance.rescue=1 init=/bin/sh"},
			want: `appliance.state: device "/dev/vda appliance.rescue=1 init=/bin/sh": a blank at byte 8`},
		{name: "state disk with a line break", opts: Options{State: "disk:/dev/vda\nAPPEND init=/bin/sh"},
			want: `appliance.state: device "/dev/vda\nAPPEND init=/bin/sh": byte 0x0a at byte 8`},
		{name: "install target with arguments", opts: Options{Install: &Install{Device: "/dev/sda init=/bin/sh"}},
			want: `install target: appliance.install: device "/dev/sda init=/bin/sh": a blank at byte 8`},
		{name: "install target with an option in the device", opts: Options{Install: &Install{Device: "/dev/sda,force"}},
			want: `install target device "/dev/sda,force", force false: reads back as device "/dev/sda", force true`},
		{name: "operator argument with a blank", in: func(in *output.Inputs) { in.Cmdline = []string{"quiet init=/bin/sh"} },
			want: `argument 1: "quiet init=/bin/sh": a blank at byte 5`},
		{name: "site name with a line break", in: func(in *output.Inputs) { in.Name = "ml-lab\nMENU HIDDEN" },
			want: `name "ml-lab\nMENU HIDDEN": want a DNS label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := output.Inputs{Name: "ml-lab", KernelVersion: "6.1.0-56-amd64", Cmdline: []string{"console=ttyS0,115200"}}
			if tc.in != nil {
				tc.in(&in)
			}
			got, _, err := cmdline(in, tc.opts, VolumeID(in.Name))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("cmdline = %q, %v; want an error saying %s", got, err, tc.want)
			}
		})
	}
}

// TestCmdlineCarriesTargetsTheInitReadsBack: a state disk and an install
// target reach the init as they were given.
func TestCmdlineCarriesTargetsTheInitReadsBack(t *testing.T) {
	in := output.Inputs{Name: "ml-lab", Cmdline: []string{"console=ttyS0,115200"}}
	install := &Install{Device: "/dev/disk/by-id/nvme-x_1", Force: true}
	line, target, err := cmdline(in, Options{State: "disk:/dev/vdb,force", Install: install}, VolumeID(in.Name))
	if err != nil {
		t.Fatal(err)
	}
	if target != "/dev/disk/by-id/nvme-x_1,force" {
		t.Errorf("install target %q", target)
	}
	cfg, err := bootinit.ParseConfig(line)
	if err != nil {
		t.Fatalf("ParseConfig(%q): %v", line, err)
	}
	if cfg.Install == nil || *cfg.Install != *install || cfg.StateDisk == nil || *cfg.StateDisk != (bootparam.InstallTarget{Device: "/dev/vdb", Force: true}) {
		t.Errorf("the init reads %q as install %+v, state disk %+v", line, cfg.Install, cfg.StateDisk)
	}
}
