package pxe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

func testInputs(t *testing.T, osContent string) output.Inputs {
	t.Helper()
	src := t.TempDir()
	in := output.Inputs{
		Name: "edge-site", ModTime: time.Unix(1700000000, 0).UTC(), Cmdline: []string{"console=ttyS0,115200"},
		Kernel: filepath.Join(src, "bzImage"), Initramfs: filepath.Join(src, "initramfs"), OSImage: filepath.Join(src, "os.img"),
	}
	for p, c := range map[string]string{in.Kernel: "kernel", in.Initramfs: "initramfs", in.OSImage: osContent} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestBuildBundle(t *testing.T) {
	in := testInputs(t, "hsqs image one")
	out := filepath.Join(t.TempDir(), "out")
	build := func(in output.Inputs) {
		t.Helper()
		dir, err := outdir.Begin(out)
		if err != nil {
			t.Fatal(err)
		}
		arts, err := New(Options{}).Build(context.Background(), in, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(arts) != 4 || arts[3].Kind != "os-image" || arts[3].SHA256 != sha(mustRead(t, in.OSImage)) {
			t.Errorf("artifacts = %+v", arts)
		}
		if err := dir.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	build(in)
	bundle := filepath.Join(out, DirName)
	digest := sha("hsqs image one")
	if got := mustRead(t, filepath.Join(bundle, "os.squashfs.sha256")); got != digest+"  os.squashfs\n" {
		t.Errorf("os.squashfs.sha256 = %q", got)
	}
	script := mustRead(t, filepath.Join(bundle, "boot.ipxe"))
	wantKernel := "kernel vmlinuz initrd=initrd appliance.os=url:os.squashfs appliance.os.base=${filename} appliance.os.sha256=" +
		digest + " appliance.state=tmpfs firstboot.config=${nodecfg} ${nodecfgsum} console=ttyS0,115200 || goto retry\n"
	if !strings.HasPrefix(script, "#!ipxe\n") || !strings.Contains(script, wantKernel) || !strings.Contains(script, "\ninitrd initrd || goto retry\nboot || goto retry\n:retry\n") {
		t.Errorf("boot.ipxe =\n%s\nwant a line %q", script, wantKernel)
	}
	for name, want := range map[string]string{"vmlinuz": "kernel", "initrd": "initramfs", "os.squashfs": "hsqs image one"} {
		if got := mustRead(t, filepath.Join(bundle, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// Same filesystem: the OS image is a hard link, not a second copy.
	a, _ := os.Stat(in.OSImage)
	b, _ := os.Stat(filepath.Join(bundle, "os.squashfs"))
	if a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("os.squashfs is a copy, want a hard link to %s", in.OSImage)
	}

	// A rebuild replaces the previous bundle.
	in2 := testInputs(t, "hsqs image two")
	build(in2)
	if got := mustRead(t, filepath.Join(bundle, "os.squashfs")); got != "hsqs image two" {
		t.Errorf("after rebuild os.squashfs = %q", got)
	}
	if !strings.Contains(mustRead(t, filepath.Join(bundle, "boot.ipxe")), sha("hsqs image two")) {
		t.Errorf("after rebuild boot.ipxe has not the new digest")
	}

	// A build that fails after writing its bundle leaves the previous one.
	dir, err := outdir.Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{}).Build(context.Background(), testInputs(t, "hsqs image three"), dir); err != nil {
		t.Fatal(err)
	}
	if err := dir.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(bundle, "os.squashfs")); got != "hsqs image two" {
		t.Errorf("after a failed build os.squashfs = %q, want the previous build's", got)
	}
}

func TestWriteRefusesExistingDir(t *testing.T) {
	in := testInputs(t, "x")
	dir := t.TempDir()
	if _, err := Write(context.Background(), dir, in, Options{}); err == nil {
		t.Errorf("Write into an existing directory: no error")
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNodeConfigs(t *testing.T) {
	in := testInputs(t, "hsqs")
	in.AgentJoinToken = "K10abc::node:AGENT-SECRET-0123456789"
	in.Secrets = "/the/secrets/volume/is/never/read/here"
	dir := filepath.Join(t.TempDir(), "pxe")
	opts := Options{
		State: "disk:auto", DefaultRole: "agent",
		Nodes: []Node{
			{Hostname: "ctrl-2", MAC: "52:54:00:00:00:02", Role: "server"},
			{Hostname: "gpu-1", MAC: "52:54:00:00:00:07", Role: "agent"},
			{Hostname: "by-serial", Role: "agent"},
		},
		UserData: map[string][]byte{"agent": []byte("#cloud-config\n# GPU workers\nappliance:\n  node_labels: [gpu=true]\nruncmd: [[touch, /run/agent-ran]]\n")},
	}
	l, err := Write(context.Background(), dir, in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"nodes/agent.yaml", "nodes/server.yaml", "nodes/ctrl-2.yaml", "nodes/gpu-1.yaml"}; strings.Join(l.NodeConfigs, " ") != strings.Join(want, " ") {
		t.Errorf("node configs %q, want %q", l.NodeConfigs, want)
	}
	if want := []string{"nodes/agent.yaml", "nodes/gpu-1.yaml"}; strings.Join(l.AgentTokenConfigs, " ") != strings.Join(want, " ") {
		t.Errorf("node configs with the agent token %q, want %q", l.AgentTokenConfigs, want)
	}
	script := mustRead(t, filepath.Join(dir, "boot.ipxe"))
	for _, want := range []string{
		"isset ${nodecfg} || set nodecfg nodes/agent.yaml\n",
		"iseq ${mac} 52:54:00:00:00:02 && set nodecfg nodes/ctrl-2.yaml ||\n",
		"appliance.state=disk:auto firstboot.config=${nodecfg} ${nodecfgsum} ",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("boot.ipxe lacks %q:\n%s", want, script)
		}
	}
	for _, c := range []struct {
		name, role, token string
		contains          []string
	}{
		{"agent", "agent", in.AgentJoinToken, []string{"gpu=true", "# GPU workers", "/run/agent-ran"}},
		{"server", "server", "", nil},
		{"ctrl-2", "", "", nil},               // the inventory decides a listed node's role
		{"gpu-1", "", in.AgentJoinToken, nil}, // an agent's: the agent join token
	} {
		data := mustRead(t, filepath.Join(dir, "nodes", c.name+".yaml"))
		if want := "iseq ${nodecfg} nodes/" + c.name + ".yaml && set nodecfgsum firstboot.config.sha256=" + sha(data) + " ||\n"; !strings.Contains(script, want) {
			t.Errorf("boot.ipxe lacks %q:\n%s", want, script)
		}
		cfg, warnings, err := cloudconfig.Parse(c.name, []byte(data))
		if err != nil || len(warnings) > 0 {
			t.Errorf("nodes/%s.yaml: %v %q\n%s", c.name, err, warnings, data)
			continue
		}
		if cfg.Appliance.Role != c.role {
			t.Errorf("nodes/%s.yaml: role %q, want %q\n%s", c.name, cfg.Appliance.Role, c.role, data)
		}
		// Only agents get a token, and only the agent join token: the
		// network serves no server secret.
		if got := cfg.Appliance.Token.Reveal(); got != c.token {
			t.Errorf("nodes/%s.yaml: token %q, want %q", c.name, got, c.token)
		}
		wantMode := os.FileMode(0o644)
		if c.token != "" {
			wantMode = 0o600
		}
		if info, err := os.Stat(filepath.Join(dir, "nodes", c.name+".yaml")); err != nil || info.Mode().Perm() != wantMode {
			t.Errorf("nodes/%s.yaml: mode %v (%v), want %04o", c.name, info.Mode(), err, wantMode)
		}
		for _, s := range c.contains {
			if !strings.Contains(data, s) {
				t.Errorf("nodes/%s.yaml lacks %q:\n%s", c.name, s, data)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes", "by-serial.yaml")); err == nil {
		t.Errorf("a node without a MAC got a config iPXE cannot select")
	}

	// outputs.pxe.agentToken: none: no config carries a token.
	opts.WithholdAgentToken = true
	dir = filepath.Join(t.TempDir(), "pxe")
	if l, err = Write(context.Background(), dir, in, opts); err != nil {
		t.Fatal(err)
	}
	if len(l.AgentTokenConfigs) != 0 {
		t.Errorf("withheld, the agent token is still in %q", l.AgentTokenConfigs)
	}
	for _, name := range l.NodeConfigs {
		if data := mustRead(t, filepath.Join(dir, name)); strings.Contains(data, "AGENT-SECRET") {
			t.Errorf("withheld, %s holds the agent token:\n%s", name, data)
		}
	}
}

func TestNodeConfigErrors(t *testing.T) {
	for name, c := range map[string]struct {
		opts Options
		err  string
	}{
		"not a mapping": {Options{UserData: map[string][]byte{"agent": []byte("#cloud-config\n- a\n")}}, "user-data for role agent: want a mapping at the top"},
		"bad value":     {Options{UserData: map[string][]byte{"server": []byte("#cloud-config\nruncmd: 7\n")}}, "node config for role server line 4: runcmd"},
		"name clash":    {Options{Nodes: []Node{{Hostname: "agent", MAC: "52:54:00:00:00:09", Role: "agent"}}}, `inventory node "agent": the name is taken`},
	} {
		_, err := Write(context.Background(), filepath.Join(t.TempDir(), "pxe"), testInputs(t, "x"), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", name, err, c.err)
		}
	}
}

func TestWriteServable(t *testing.T) {
	in := testInputs(t, "hsqs")
	tftp := t.TempDir()
	for _, b := range TFTPBinaries {
		os.WriteFile(filepath.Join(tftp, b), []byte("ipxe "+b), 0o644)
	}
	dir := filepath.Join(t.TempDir(), "pxe")
	err := WriteServable(context.Background(), dir, in, ServableOptions{
		Options:    Options{DefaultRole: "agent"},
		Serve:      payload.PXEServeConfig{DHCP: "full", Range: "10.0.0.100-10.0.0.199", Router: "10.0.0.1"},
		TFTPSource: tftp,
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"vmlinuz": "kernel", "initrd": "initramfs", "tftp/undionly.kpxe": "ipxe undionly.kpxe", "tftp/ipxe.efi": "ipxe ipxe.efi",
		"serve.json": "{\n  \"dhcp\": \"full\",\n  \"range\": \"10.0.0.100-10.0.0.199\",\n  \"router\": \"10.0.0.1\"\n}\n",
	} {
		if got := mustRead(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The OS image is the serving node's own: not in the bundle, and its
	// digest is left for firstboot serve-pxe to fill in.
	if _, err := os.Stat(filepath.Join(dir, "os.squashfs")); err == nil {
		t.Error("the in-image bundle holds an OS image")
	}
	script := mustRead(t, filepath.Join(dir, "boot.ipxe.in"))
	if !strings.Contains(script, "appliance.os.sha256=@OS_SHA256@ ") || !strings.Contains(script, "iseq ${nodecfg} nodes/agent.yaml && set nodecfgsum firstboot.config.sha256=") {
		t.Errorf("boot.ipxe.in:\n%s", script)
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes", "server.yaml")); err != nil {
		t.Error(err)
	}
	// A missing iPXE binary fails the build.
	os.Remove(filepath.Join(tftp, "ipxe.efi"))
	err = WriteServable(context.Background(), filepath.Join(t.TempDir(), "pxe"), in, ServableOptions{TFTPSource: tftp})
	if err == nil || !strings.Contains(err.Error(), "tftp/ipxe.efi") {
		t.Errorf("without ipxe.efi: %v", err)
	}
}
