package site

import "testing"

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
