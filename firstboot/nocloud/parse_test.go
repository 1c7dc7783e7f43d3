package nocloud

import (
	"reflect"
	"testing"
)

func TestParseUserData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     UserData
		warnings []string
		err      string
	}{
		{name: "empty", in: ""},
		{
			name: "full subset",
			in: `#cloud-config
hostname: node-7
fqdn: node-7.lab.internal
ssh_authorized_keys:
  - ssh-ed25519 AAAA1 a@x
  - ssh-ed25519 AAAA2 b@x
appliance:
  role: server
`,
			want: UserData{Hostname: "node-7", FQDN: "node-7.lab.internal", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1 a@x", "ssh-ed25519 AAAA2 b@x"}, Role: "server"},
		},
		{
			name:     "unknown keys warn",
			in:       "#cloud-config\npackages: [vim]\nhostname: n1\nruncmd:\n  - echo hi\n",
			want:     UserData{Hostname: "n1"},
			warnings: []string{`user-data line 2: key "packages" is not supported yet, ignored`, `user-data line 4: key "runcmd" is not supported yet, ignored`},
		},
		{
			name:     "script is ignored",
			in:       "#!/bin/sh\necho hi\n",
			warnings: []string{`user-data: first line "#!/bin/sh" is not "#cloud-config", file ignored`},
		},
		{name: "header only", in: "#cloud-config\n"},
		{name: "bad role", in: "#cloud-config\nappliance:\n  role: master\n", err: `user-data line 3: appliance.role: want "server" or "agent", got "master"`},
		{name: "unknown appliance key", in: "#cloud-config\nappliance: {rol: agent}\n", err: `user-data line 2: appliance: unknown key "rol" (known: role)`},
		{name: "appliance not a mapping", in: "#cloud-config\nappliance: agent\n", err: `user-data line 2: appliance: want a mapping, got a scalar`},
		{name: "hostname list", in: "#cloud-config\nhostname: [a, b]\n", err: `user-data line 2: hostname: want a string, got a list`},
		{name: "keys not a list", in: "#cloud-config\nssh_authorized_keys: ssh-ed25519 AAAA\n", err: `user-data line 2: ssh_authorized_keys: want a list of strings, got a scalar`},
		{name: "key item null", in: "#cloud-config\nssh_authorized_keys:\n  - \n", err: `user-data line 3: ssh_authorized_keys: want a string, got null`},
		{name: "not a mapping", in: "#cloud-config\n- a\n", err: `user-data line 2: want a mapping, got a list`},
		{name: "bad yaml", in: "#cloud-config\nhostname: [\n", err: `user-data: yaml: line 2: did not find expected node content`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := ParseUserData([]byte(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("warnings = %q, want %q", warnings, tc.warnings)
			}
		})
	}
}

func TestParseMetaData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     MetaData
		warnings []string
		err      string
	}{
		{name: "empty", in: ""},
		{name: "yaml", in: "instance-id: iid-1\nlocal-hostname: n1\n", want: MetaData{InstanceID: "iid-1", LocalHostname: "n1"}},
		{name: "json", in: `{"instance-id": "iid-2", "local-hostname": "n2"}`, want: MetaData{InstanceID: "iid-2", LocalHostname: "n2"}},
		{
			name:     "unknown key warns",
			in:       "instance-id: iid-1\nnetwork-interfaces: |\n  auto eth0\n",
			want:     MetaData{InstanceID: "iid-1"},
			warnings: []string{`meta-data line 2: key "network-interfaces" is not supported yet, ignored`},
		},
		{name: "bad type", in: "instance-id: {a: b}\n", err: `meta-data line 1: instance-id: want a string, got a mapping`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := ParseMetaData([]byte(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tc.want || !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("got %+v %q, want %+v %q", got, warnings, tc.want, tc.warnings)
			}
		})
	}
}
