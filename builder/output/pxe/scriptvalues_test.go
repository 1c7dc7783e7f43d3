package pxe

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// TestWriteRefusesHostileValues: every value that reaches boot.ipxe, the
// kernel line or a file name, outside its grammar, fails Write before it
// writes anything (the bundle directory is never made). builder validate
// refuses the same values (builder/site/bootvalues_test.go); these are
// what a caller that skipped it would pass.
func TestWriteRefusesHostileValues(t *testing.T) {
	node := Node{Hostname: "ctrl-2", MAC: "52:54:00:00:00:02", Role: "server"}
	for _, tc := range []struct {
		name string
		in   func(*output.Inputs)
		opts func(*Options)
		want string
	}{
		{name: "state device with arguments", opts: func(o *Options) { o.State = "disk:/dev/vda appliance.rescue=1 init=/bin/sh" },
			want: `appliance.state: device "/dev/vda appliance.rescue=1 init=/bin/sh": a blank at byte 8`},
		{name: "state device with a line break", opts: func(o *Options) { o.State = "disk:/dev/vda\nshell" },
			want: `appliance.state: device "/dev/vda\nshell": byte 0x0a at byte 8`},
		{name: "state of another kind", opts: func(o *Options) { o.State = "PARTLABEL=STATE" },
			want: `state "PARTLABEL=STATE": want tmpfs or disk:<disk>`},
		{name: "operator argument with a blank", in: func(in *output.Inputs) { in.Cmdline = []string{"quiet init=/bin/sh"} },
			want: `argument 1: "quiet init=/bin/sh": a blank at byte 5`},
		{name: "operator argument with an iPXE expansion", in: func(in *output.Inputs) { in.Cmdline = []string{"x=${password}"} },
			want: `argument 1: "x=${password}": '$' at byte 2`},
		{name: "operator argument that ends an iPXE command", in: func(in *output.Inputs) { in.Cmdline = []string{"||"} },
			want: `argument 1: "||": key "||"`},
		{name: "operator argument that starts an iPXE comment", in: func(in *output.Inputs) { in.Cmdline = []string{"#"} },
			want: `argument 1: "#": '#' at byte 0`},
		{name: "site name with a command", in: func(in *output.Inputs) { in.Name = "lab ; shell" },
			want: `name "lab ; shell": want a DNS label`},
		{name: "site name with a line break", in: func(in *output.Inputs) { in.Name = "lab\nshell" },
			want: `name "lab\nshell": want a DNS label`},
		{name: "hostname with a path", opts: func(o *Options) { n := node; n.Hostname = "../../etc/x"; o.Nodes = []Node{n} },
			want: `inventory node hostname: name "../../etc/x": want a DNS label`},
		{name: "hostname with an iPXE command", opts: func(o *Options) { n := node; n.Hostname = "a || shell"; o.Nodes = []Node{n} },
			want: `inventory node hostname: name "a || shell": want a DNS label`},
		{name: "MAC with a command", opts: func(o *Options) { n := node; n.MAC = "52:54:00:00:00:02 && shell"; o.Nodes = []Node{n} },
			want: `inventory node ctrl-2: MAC "52:54:00:00:00:02 && shell": want six lower-case hex pairs joined by ':'`},
		{name: "MAC not as iPXE prints it", opts: func(o *Options) { n := node; n.MAC = "52-54-00-00-00-02"; o.Nodes = []Node{n} },
			want: `inventory node ctrl-2: MAC "52-54-00-00-00-02": want six lower-case hex pairs joined by ':'`},
		{name: "unknown role", opts: func(o *Options) { n := node; n.Role = "server\nshell"; o.Nodes = []Node{n} },
			want: `inventory node ctrl-2: role "server\nshell": want server or agent`},
		{name: "unknown default role", opts: func(o *Options) { o.DefaultRole = "agent ${x}" },
			want: `default role "agent ${x}": want server or agent`},
		{name: "kernel version with a loader line", in: func(in *output.Inputs) { in.KernelVersion = "6.1\noptions init=/bin/sh" },
			want: `kernel version "6.1\noptions init=/bin/sh"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testInputs(t, "hsqs")
			opts := Options{Nodes: []Node{node}}
			if tc.in != nil {
				tc.in(&in)
			}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			dir := filepath.Join(t.TempDir(), "pxe")
			_, err := Write(context.Background(), dir, in, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write: %v, want an error saying %s", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Write made %s before refusing: %v", dir, err)
			}
			err = WriteServable(context.Background(), filepath.Join(t.TempDir(), "in-image"), in, ServableOptions{Options: opts})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteServable: %v, want an error saying %s", err, tc.want)
			}
		})
	}
}

// TestCmdlineAndScriptRefuseDirectly: the exported Cmdline and the script
// writer check on their own, whoever calls them.
func TestCmdlineAndScriptRefuseDirectly(t *testing.T) {
	digest := strings.Repeat("0", 64)
	for _, tc := range []struct {
		sha, state string
		extra      []string
		want       string
	}{
		{"not hex", "tmpfs", nil, `OS image digest: sha256 "not hex"`},
		{digest, "disk:/dev/a b", nil, `appliance.state: device "/dev/a b"`},
		{digest, "tmpfs", []string{"a b"}, `argument 7: "a b": a blank`},
		{digest, "tmpfs", []string{"x=" + strings.Repeat("a", 500), "y=" + strings.Repeat("a", 500), "z=" + strings.Repeat("a", 500)},
			"for what iPXE expands, more than the kernel's 2047"},
	} {
		if _, err := Cmdline(tc.sha, tc.state, tc.extra); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Cmdline(%q, %q, %q) = %v, want an error saying %s", tc.sha, tc.state, tc.extra, err, tc.want)
		}
	}
	if _, err := Cmdline(payload.PXEOSDigest, "tmpfs", nil); err != nil {
		t.Errorf("Cmdline with the template's placeholder: %v", err)
	}
	opts := withDefaults(Options{})
	if _, err := bootScript("lab", opts, nil, "kernel x || shell"); err == nil || !strings.Contains(err.Error(), `"||"`) {
		t.Errorf("bootScript with a command in the kernel line: %v", err)
	}
	if _, err := bootScript("lab", opts, []nodeConfig{{name: "nodes/a b.yaml", sha256: digest}}, "quiet"); err == nil {
		t.Errorf("bootScript with a blank in a node config name: no error")
	}
}

// ipxeTokens splits a line of boot.ipxe into tokens as iPXE does before
// it expands settings (ipxe/ipxe src/core/exec.c split_command, commit
// 0062c07d: at space, \t, \n, \v, \f and \r); a model, not iPXE itself:
// builder/e2e/ipxescript_test.go runs the real one.
func ipxeTokens(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || ('\t' <= r && r <= '\r') })
}

// scriptCommands are the only commands boot.ipxe may hold; a value that
// smuggled in another one (after "||", "&&" or ";" or on a line of its
// own) shows up as a command outside this set.
var scriptCommands = map[string]bool{
	"clear": true, "isset": true, "set": true, "iseq": true, "echo": true, "kernel": true,
	"initrd": true, "boot": true, "imgfree": true, "sleep": true, "goto": true,
}

// commands lists a script's commands as iPXE's command_terminator (same
// file) separates them, leaving out the empty command after a trailing
// "||" (iPXE runs it as a success), and fails on a comment that is not
// the header's.
func commands(t *testing.T, script string) [][]string {
	t.Helper()
	var cmds [][]string
	for i, line := range strings.Split(strings.TrimSuffix(script, "\n"), "\n") {
		toks := ipxeTokens(line)
		if len(toks) == 0 || strings.HasPrefix(toks[0], ":") {
			continue
		}
		if strings.HasPrefix(toks[0], "#") {
			if i > 3 {
				t.Fatalf("line %d is a comment: %q", i+1, line)
			}
			continue
		}
		var cmd []string
		for _, tok := range toks {
			switch {
			case strings.HasPrefix(tok, "#"):
				t.Fatalf("line %d has a comment: %q", i+1, line)
			case tok == "||" || tok == "&&" || tok == ";":
				if cmd != nil {
					cmds = append(cmds, cmd)
				}
				cmd = nil
			default:
				cmd = append(cmd, tok)
			}
		}
		if cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	return cmds
}

// FuzzBootScript: whatever Cmdline and the script writer accept, iPXE
// reads as the script the builder meant: only its own commands, one
// kernel line whose arguments, once iPXE expands its three settings, are
// the kernel arguments given, each read back unchanged by the kernel's
// splitting (bootparam.ParseCmdline).
func FuzzBootScript(f *testing.F) {
	f.Add("edge-site", "console=ttyS0,115200", "tmpfs", "ctrl-2", "52:54:00:00:00:02")
	f.Add("lab ; shell", "x=${password}", "disk:/dev/vda appliance.rescue=1", "a || b", "52:54:00:00:00:02 && shell")
	f.Add("lab", "quiet\ninit=/bin/sh", "disk:auto,force", "n\n#", "${mac}")
	f.Add("lab", "#", "disk:/dev/disk/by-id/x", "x", "")
	digest := strings.Repeat("ab", 32)
	f.Fuzz(func(t *testing.T, name, arg, state, hostname, mac string) {
		key, value, _ := strings.Cut(arg, "=")
		if strings.HasPrefix(key, "appliance.") || strings.HasPrefix(key, "firstboot.") || key == "initrd" {
			return // the builder's own keys (builder validate refuses them)
		}
		opts := withDefaults(Options{State: state, Nodes: []Node{{Hostname: hostname, MAC: mac, Role: "server"}}})
		cmdline, err := Cmdline(digest, opts.State, []string{arg})
		if err != nil {
			return
		}
		configs, err := nodeConfigs(name, "", opts)
		if err != nil {
			return
		}
		script, err := bootScript(name, opts, configs, cmdline)
		if err != nil {
			return
		}
		var kernel []string
		for _, cmd := range commands(t, script) {
			if !scriptCommands[cmd[0]] {
				t.Fatalf("command %q in\n%s", cmd, script)
			}
			if cmd[0] == "kernel" {
				if kernel != nil {
					t.Fatalf("two kernel lines in\n%s", script)
				}
				kernel = cmd
			}
		}
		// iPXE expands after splitting: each expansion stays in its token.
		expand := strings.NewReplacer("${filename}", "http://10.0.0.1:8080/boot.ipxe",
			"${nodecfg}", "nodes/server.yaml", "${nodecfgsum}", bootparam.ArgConfigSHA256+"="+digest)
		line := expand.Replace(strings.Join(kernel[2:], " "))
		got := bootparam.ParseCmdline(line)
		want := map[string]string{
			"initrd": bootparam.PXEInitrd, bootparam.ArgOS: "url:" + bootparam.PXEOSImage,
			bootparam.ArgOSBase: "http://10.0.0.1:8080/boot.ipxe", bootparam.ArgOSSHA256: digest, bootparam.ArgState: opts.State,
			bootparam.ArgConfig: "nodes/server.yaml", bootparam.ArgConfigSHA256: digest, key: value,
		}
		if !maps.Equal(got, want) {
			t.Fatalf("kernel line %q reads as %q, want %q", line, got, want)
		}
	})
}
