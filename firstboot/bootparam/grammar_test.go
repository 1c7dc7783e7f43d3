package bootparam

import (
	"strings"
	"testing"
)

// hostileArgs are injection attempts: each must fail CheckArg. The reason
// names what is wrong.
var hostileArgs = []struct{ arg, reason string }{
	{"", "empty argument"},
	{"console=tty0 init=/bin/sh", "a blank at byte 12"},
	{"console=tty0\tinit=/bin/sh", "byte 0x09 at byte 12"},
	{"console=tty0\ninit=/bin/sh", "byte 0x0a at byte 12"},
	{"console=tty0\rinit=/bin/sh", "byte 0x0d at byte 12"},
	{"console=tty0\vinit=/bin/sh", "byte 0x0b at byte 12"},
	{"console=tty0\finit=/bin/sh", "byte 0x0c at byte 12"},
	{"console=tty0\xa0init=/bin/sh", "byte 0xa0 at byte 12"}, // the kernel's isspace counts 0xA0
	{"console=tty0\x00init=/bin/sh", "byte 0x00 at byte 12"},
	{"a=\x1b[2J", "byte 0x1b at byte 2"},
	{"a=caf\u00e9", "byte 0xc3 at byte 5"},
	{`foo="a b"`, `'"' at byte 4`},
	{`foo="x`, `'"' at byte 4`},
	{"foo='x'", `'\'' at byte 4`},
	{"foo=`id`", "'`' at byte 4"},
	{`foo=a\b`, `'\\' at byte 5`},
	{"appliance.os.base=${password}", "'$' at byte 18"},
	{"x=$", "'$' at byte 2"},
	{"x={y}", "'{' at byte 2"},
	{"x=y}", "'}' at byte 3"},
	{"#comment", "'#' at byte 0"},
	{"x=#y", "'#' at byte 2"},
	{";", `key ";"`},
	{"||", `key "||"`},
	{"&&", `key "&&"`},
	{"--", `key "--"`},
	{"-x", `key "-x"`},
	{".x=1", `key ".x"`},
	{"=x", `key ""`},
	{"a;b=1", `key "a;b"`},
	{"a/b=1", `key "a/b"`},
	{"x=" + strings.Repeat("a", MaxArgLen), "514 bytes, longer than 512"},
}

func TestCheckArgRefusesInjection(t *testing.T) {
	for _, tc := range hostileArgs {
		err := CheckArg(tc.arg)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("CheckArg(%q) = %v, want an error saying %q", tc.arg, err, tc.reason)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x00\n\r\x1b") {
			t.Errorf("CheckArg(%q) error %q holds a control byte", tc.arg, err)
		}
	}
}

func TestCheckArgAcceptsRealArguments(t *testing.T) {
	for _, arg := range []string{
		"quiet", "console=ttyS0,115200", "console=tty0", "appliance.rescue=1", "8250.nr_uarts=4",
		"ds=nocloud;s=http://10.0.0.1:8000/seed/;h=node-1", "firstboot.config=https://boot.lab/c.yaml?node=7&x=%41",
		"appliance.os=ISO=ML_LAB:/appliance/os.squashfs", "appliance.state=disk:/dev/disk/by-id/nvme-x_1:2,force",
		"systemd.unit=rescue.target", "lsm=landlock,yama,apparmor", "key=", "_x=a|b~c^d*e!f@g[h]i<j>k(l)m",
		"appliance.os.sha256=@OS_SHA256@", "x=" + strings.Repeat("a", MaxArgLen-2),
	} {
		if err := CheckArg(arg); err != nil {
			t.Errorf("CheckArg(%q): %v", arg, err)
		}
	}
}

func TestCheckCmdline(t *testing.T) {
	if err := CheckCmdline("line", []string{"a=1", "b"}); err != nil {
		t.Errorf("CheckCmdline(a=1 b): %v", err)
	}
	err := CheckCmdline("line", []string{"a=1", "b c"})
	if want := `line: argument 2: "b c": a blank at byte 1`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("CheckCmdline with a blank: %v, want %s...", err, want)
	}
	long := make([]string, 5)
	for i := range long {
		long[i] = "x=" + strings.Repeat("a", 500)
	}
	if err := CheckCmdline("line", long); err == nil || err.Error() != "line: 2514 bytes, longer than the kernel's 2047" {
		t.Errorf("CheckCmdline of 2514 bytes: %v", err)
	}
	exact := []string{"x=" + strings.Repeat("a", MaxArgLen-2), "x=" + strings.Repeat("a", MaxArgLen-2),
		"x=" + strings.Repeat("a", MaxArgLen-2), "x=" + strings.Repeat("a", MaxCmdlineLen-3*MaxArgLen-3-2)}
	if err := CheckCmdline("line", exact); err != nil {
		t.Errorf("CheckCmdline of exactly %d bytes: %v", MaxCmdlineLen, err)
	}
}

func TestCheckDevice(t *testing.T) {
	for _, dev := range []string{
		"/dev/sda", "/dev/nvme0n1", "/dev/vdb", "/dev/disk/by-id/virtio-t1",
		"/dev/disk/by-id/nvme-Samsung_SSD_970_EVO_1TB_S467NX0M123456", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1.0",
		"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/disk/by-id/usb-Kingston+x@y",
	} {
		if err := CheckDevice(dev); err != nil {
			t.Errorf("CheckDevice(%q): %v", dev, err)
		}
	}
	for _, tc := range []struct{ dev, want string }{
		{"/dev/vda appliance.rescue=1 init=/bin/sh", `device "/dev/vda appliance.rescue=1 init=/bin/sh": a blank at byte 8: ` + DeviceRule},
		{"/dev/vda\ninit=/bin/sh", `device "/dev/vda\ninit=/bin/sh": byte 0x0a at byte 8: ` + DeviceRule},
		{"/dev/vda\x00", `device "/dev/vda\x00": byte 0x00 at byte 8: ` + DeviceRule},
		{`/dev/"vda"`, `device "/dev/\"vda\"": '"' at byte 5: ` + DeviceRule},
		{"/dev/${x}", `device "/dev/${x}": '$' at byte 5: ` + DeviceRule},
		{"/dev/sda;reboot", `device "/dev/sda;reboot": ';' at byte 8: ` + DeviceRule},
		{"/dev/sda&&x", `device "/dev/sda&&x": '&' at byte 8: ` + DeviceRule},
		{"/dev/sda#x", `device "/dev/sda#x": '#' at byte 8: ` + DeviceRule},
		{"/dev/sda,force", `device "/dev/sda,force": ',' at byte 8: ` + DeviceRule},
		{"/dev/../etc/shadow", `device "/dev/../etc/shadow": not a clean path: ` + DeviceRule},
		{"/dev/./sda", `device "/dev/./sda": not a clean path: ` + DeviceRule},
		{"/dev//sda", `device "/dev//sda": not a clean path: ` + DeviceRule},
		{"/dev/sda/", `device "/dev/sda/": not a clean path: ` + DeviceRule},
		{"/dev/", `device "/dev/": ` + DeviceRule},
		{"sda", `device "sda": ` + DeviceRule},
		{"/dev/" + strings.Repeat("a", 251), "device of 256 bytes, longer than 255"},
	} {
		if err := CheckDevice(tc.dev); err == nil || err.Error() != tc.want {
			t.Errorf("CheckDevice(%q) = %v, want %s", tc.dev, err, tc.want)
		}
	}
}

func TestCheckSHA256(t *testing.T) {
	if err := CheckSHA256(strings.Repeat("0a", 32)); err != nil {
		t.Errorf("CheckSHA256(hex): %v", err)
	}
	for _, s := range []string{"", strings.Repeat("0A", 32), strings.Repeat("0", 63), strings.Repeat("0", 63) + " ", strings.Repeat("0", 65)} {
		if err := CheckSHA256(s); err == nil {
			t.Errorf("CheckSHA256(%q): no error", s)
		}
	}
}
