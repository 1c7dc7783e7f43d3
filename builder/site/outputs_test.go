package site

import (
	"os"
	"path/filepath"
	"testing"
)

func TestISOOutput(t *testing.T) {
	for _, tc := range []struct {
		name, outputs, err string
		raw, iso           bool
		install            string
	}{
		{name: "iso only", outputs: "outputs:\n  iso: {}\n", iso: true},
		{name: "iso with no value", outputs: "outputs:\n  iso:\n", iso: true},
		{name: "raw and iso", outputs: "outputs:\n  raw: {}\n  iso: {}\n", raw: true, iso: true},
		{name: "default is raw only", outputs: "", raw: true},
		{name: "install defaults to auto", outputs: "outputs:\n  iso:\n    install: {}\n", iso: true, install: "auto"},
		{
			name:    "install by id, forced",
			outputs: "outputs:\n  iso:\n    install: {device: /dev/disk/by-id/virtio-t1, force: true}\n",
			iso:     true, install: "/dev/disk/by-id/virtio-t1,force",
		},
		{
			name:    "install to a bad device",
			outputs: "outputs:\n  iso:\n    install: {device: sda}\n",
			err:     `site.yaml:13: outputs.iso.install.device: "sda": want auto, /dev/disk/by-id/<name> or /dev/<name>`,
		},
		{
			name:    "unknown iso field",
			outputs: "outputs:\n  iso: {label: X}\n",
			err:     "site.yaml:12: outputs.iso.label: unknown field",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := checkLoad(t, valid+tc.outputs, tc.err, nil)
			if tc.err != "" {
				return
			}
			if got := s.Outputs.Raw != nil; got != tc.raw {
				t.Errorf("raw output %v, want %v", got, tc.raw)
			}
			if got := s.Outputs.ISO != nil; got != tc.iso {
				t.Errorf("iso output %v, want %v", got, tc.iso)
			}
			if got := ""; tc.iso {
				if in := s.Outputs.ISO.Install; in != nil {
					got = in.Target().String()
				}
				if got != tc.install {
					t.Errorf("install target %q, want %q", got, tc.install)
				}
			}
		})
	}
}

func TestPXEOutput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("agent.yaml", "#cloud-config\nappliance:\n  node_labels: [gpu=true]\n")
	bad := write("bad.yaml", "#cloud-config\nruncmd: 7\n")
	withRole := write("role.yaml", "#cloud-config\nappliance: {role: server}\n")

	s := checkLoad(t, valid+"outputs:\n  pxe:\n    state: {}\n    userData: {agent: "+good+"}\n", "", nil)
	if got := s.Outputs.PXE.Serve.DHCP; got != "proxy" {
		t.Errorf("serve.dhcp defaults to %q, want proxy", got)
	}
	if got := s.Outputs.PXE.State.StateArg(); got != "disk:auto" {
		t.Errorf("state %q, want disk:auto", got)
	}
	for _, tc := range []struct{ name, outputs, err string }{
		{"bad state disk", "outputs:\n  pxe:\n    state: {device: vdb}\n", `site.yaml:13: outputs.pxe.state.device: "vdb": want auto, /dev/disk/by-id/<name> or /dev/<name>`},
		{"unknown role", "outputs:\n  pxe:\n    userData: {worker: " + good + "}\n", `site.yaml:13: outputs.pxe.userData.worker: unknown role "worker": want server or agent`},
		{"bad user-data", "outputs:\n  pxe:\n    userData: {agent: " + bad + "}\n", "site.yaml:13: outputs.pxe.userData.agent: " + bad + " line 2: runcmd: want a list, got \"7\""},
		{"user-data sets the role", "outputs:\n  pxe:\n    userData: {agent: " + withRole + "}\n", "site.yaml:13: outputs.pxe.userData.agent: " + withRole + " sets appliance.role: the bundle sets each role's config's role itself"},
		{"bad dhcp mode", "outputs:\n  pxe:\n    serve: {dhcp: yes}\n", `site.yaml:13: outputs.pxe.serve.dhcp: "yes": want proxy, full or off`},
		{"bad agent token choice", "outputs:\n  pxe:\n    agentToken: sometimes\n", `site.yaml:13: outputs.pxe.agentToken: "sometimes": want serve or none`},
		{"full dhcp without a range", "outputs:\n  pxe:\n    serve: {dhcp: full}\n", `site.yaml:13: outputs.pxe.serve.range: full DHCP needs a range, e.g. 10.0.0.100-10.0.0.200`},
		{"full dhcp with a bad range", "outputs:\n  pxe:\n    serve: {dhcp: full, range: 10.0.0.9-10.0.0.1}\n", `site.yaml:13: outputs.pxe.serve.range: "10.0.0.9-10.0.0.1": want FIRST-LAST, two IPv4 addresses, the first not above the last`},
		{"a range without full dhcp", "outputs:\n  pxe:\n    serve: {range: 10.0.0.1-10.0.0.9}\n", `site.yaml:13: outputs.pxe.serve.range: only full DHCP hands out addresses (dhcp: full)`},
		{"serving from the initial server needs K3s", "outputs:\n  pxe: {serveFromInitServer: true}\n", `site.yaml:12: outputs.pxe.serveFromInitServer: the initial server is a K3s role: add a k3s section`},
		{"missing user-data", "outputs:\n  pxe:\n    userData: {agent: " + dir + "/none.yaml}\n", "site.yaml:13: outputs.pxe.userData.agent: " + dir + "/none.yaml: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLoad(t, valid+tc.outputs, tc.err, nil) })
	}
}
