package cloudconfig

import (
	"reflect"
	"testing"
)

const testSource = "seed /dev/vdb user-data"

// parseCase is one Parse table entry. doc is the document after the
// "#cloud-config" line, so its first line is line 2, unless raw is set.
type parseCase struct {
	name     string
	doc      string
	raw      bool
	want     Config
	warnings []string
	err      string
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.doc
			if !tc.raw {
				in = "#cloud-config\n" + tc.doc
			}
			got, warnings, err := Parse(testSource, []byte(in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v\nwant %s", err, tc.err)
				}
				if !reflect.DeepEqual(got, Config{}) || warnings != nil {
					t.Errorf("a failed Parse returned %+v, warnings %q", got, warnings)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			if !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("warnings = %q\nwant       %q", warnings, tc.warnings)
			}
		})
	}
}

// keys returns a Set map of the given keys.
func keys(k ...string) map[string]bool {
	m := map[string]bool{}
	for _, key := range k {
		m[key] = true
	}
	return m
}

func TestParseDocument(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "empty", raw: true, doc: ""},
		{name: "blank", raw: true, doc: " \n\n"},
		{name: "header only", doc: ""},
		{name: "header with trailing blanks", raw: true, doc: "#cloud-config  \r\nhostname: n1\n", want: Config{Hostname: "n1", Set: keys("hostname")}},
		{name: "null document", doc: "~\n"},
		{
			name: "script ignored", raw: true, doc: "#!/bin/sh\necho hi\n",
			warnings: []string{`seed /dev/vdb user-data: a script ("#!"), not "#cloud-config": file ignored`},
		},
		{
			name: "jinja template ignored", raw: true, doc: "## template: jinja\n#cloud-config\nhostname: n1\n",
			warnings: []string{`seed /dev/vdb user-data: a cloud-init template ("## template:"), not "#cloud-config": file ignored`},
		},
		{
			name: "multipart ignored", raw: true, doc: "Content-Type: multipart/mixed; boundary=\"===============1234567890==\"\n",
			warnings: []string{`seed /dev/vdb user-data: a MIME document ("Content-Type:"), not "#cloud-config": file ignored`},
		},
		{
			name: "unknown keys warn", doc: "packages: [vim]\nhostname: n1\npreserve_hostname: true\ngroups:\n  - admins\n",
			want: Config{Hostname: "n1", Set: keys("hostname")},
			warnings: []string{
				`seed /dev/vdb user-data line 2: key "packages" is not supported, ignored`,
				`seed /dev/vdb user-data line 4: key "preserve_hostname" is not supported, ignored`,
				`seed /dev/vdb user-data line 5: key "groups" is not supported, ignored`,
			},
		},
		{name: "not a mapping", doc: "- a\n", err: "seed /dev/vdb user-data line 2: want a mapping, got a list"},
		{name: "bad yaml", doc: "hostname: [\n", err: "seed /dev/vdb user-data: yaml: line 2: did not find expected node content"},
		{
			name: "repeated key: the last counts", doc: "hostname: a\nntp:\n  enabled: true\n  enabled: false\nhostname: b\n",
			want: Config{Hostname: "b", NTP: &NTP{Client: "auto"}, Set: keys("hostname", "ntp")},
			warnings: []string{
				`seed /dev/vdb user-data line 6: key "hostname" repeats line 2, the last one counts`,
				`seed /dev/vdb user-data line 5: key "ntp.enabled" repeats line 4, the last one counts`,
			},
		},
	})
}

func TestParseHostnameAndKeys(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "hostname and fqdn", doc: "hostname: node-7\nfqdn: node-7.lab.internal\n", want: Config{Hostname: "node-7", FQDN: "node-7.lab.internal", Set: keys("hostname", "fqdn")}},
		{name: "numeric hostname", doc: "hostname: 1234\n", want: Config{Hostname: "1234", Set: keys("hostname")}},
		{name: "hostname leading hyphen", doc: "hostname: -node\n", err: `seed /dev/vdb user-data line 2: hostname: want an RFC 1123 host name, got "-node"`},
		{name: "hostname underscore", doc: "hostname: node_7\n", err: `seed /dev/vdb user-data line 2: hostname: want an RFC 1123 host name, got "node_7"`},
		{name: "hostname list", doc: "hostname: [a, b]\n", err: "seed /dev/vdb user-data line 2: hostname: want a string, got a list"},
		{name: "hostname null", doc: "hostname:\n", err: "seed /dev/vdb user-data line 2: hostname: want a string, got null"},
		{name: "fqdn empty label", doc: "\nfqdn: node..lab\n", err: `seed /dev/vdb user-data line 3: fqdn: want an RFC 1123 host name, got "node..lab"`},
		{name: "fqdn label too long", doc: "fqdn: a234567890123456789012345678901234567890123456789012345678901234.lab\n", err: `seed /dev/vdb user-data line 2: fqdn: want an RFC 1123 host name, got "a23456789012345678901234567890123456789012345678901234567890..."`},
		{
			name: "root keys",
			doc:  "ssh_authorized_keys:\n  - ssh-ed25519 AAAA1 a@x\n  - ssh-ed25519 AAAA2 b@x\n",
			want: Config{SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1 a@x", "ssh-ed25519 AAAA2 b@x"}, Set: keys("ssh_authorized_keys")},
		},
		{name: "root key as one string", doc: "ssh_authorized_keys: ssh-ed25519 AAAA1 a@x\n", want: Config{SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1 a@x"}, Set: keys("ssh_authorized_keys")}},
		{
			name:     "keys through an alias",
			doc:      "x-keys: &k\n  - ssh-ed25519 AAAA1 a@x\nssh_authorized_keys: *k\n",
			want:     Config{SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1 a@x"}, Set: keys("ssh_authorized_keys")},
			warnings: []string{`seed /dev/vdb user-data line 2: key "x-keys" is not supported, ignored`},
		},
		{name: "key item null", doc: "ssh_authorized_keys:\n  - ssh-ed25519 AAAA1\n  -\n", err: "seed /dev/vdb user-data line 4: ssh_authorized_keys[1]: want a string, got null"},
		{name: "key item two lines", doc: "ssh_authorized_keys:\n  - |\n    ssh-ed25519 AAAA1\n    ssh-ed25519 AAAA2\n", err: `seed /dev/vdb user-data line 3: ssh_authorized_keys[0]: want a single line, got "ssh-ed25519 AAAA1\nssh-ed25519 AAAA2\n"`},
		{name: "keys mapping", doc: "ssh_authorized_keys: {a: b}\n", err: "seed /dev/vdb user-data line 2: ssh_authorized_keys: want a list, got a mapping"},
	})
}

func TestParseCommands(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "runcmd and bootcmd",
			doc:  "runcmd:\n  - echo hi > /run/x\n  - [ls, -l, /]\n  - [sleep, 5]\nbootcmd:\n  - [modprobe, br_netfilter]\n",
			want: Config{
				RunCmd:  []Command{{Shell: "echo hi > /run/x"}, {Argv: []string{"ls", "-l", "/"}}, {Argv: []string{"sleep", "5"}}},
				BootCmd: []Command{{Argv: []string{"modprobe", "br_netfilter"}}},
				Set:     keys("runcmd", "bootcmd"),
			},
		},
		{name: "runcmd not a list", doc: "runcmd: echo hi\n", err: `seed /dev/vdb user-data line 2: runcmd: want a list, got "echo hi"`},
		{name: "runcmd item mapping", doc: "runcmd:\n  - echo: hi\n", err: "seed /dev/vdb user-data line 3: runcmd[0]: want a shell command string or a list of arguments, got a mapping"},
		{name: "runcmd empty argv", doc: "runcmd:\n  - []\n", err: "seed /dev/vdb user-data line 3: runcmd[0]: want a command and its arguments, got a list"},
		{name: "bootcmd nested list", doc: "bootcmd:\n  - [echo, [a]]\n", err: "seed /dev/vdb user-data line 3: bootcmd[0][1]: want a string, got a list"},
		{name: "bootcmd blank", doc: "bootcmd:\n  - ' '\n", err: `seed /dev/vdb user-data line 3: bootcmd[0]: want a command, got " "`},
	})
}

func TestParseNTPAndTimezone(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "ntp",
			doc:  "ntp:\n  enabled: true\n  ntp_client: systemd-timesyncd\n  servers: [10.0.0.1, ntp.lab.internal]\n  pools: [pool.lab.internal]\n",
			want: Config{NTP: &NTP{Enabled: true, Client: "systemd-timesyncd", Servers: []string{"10.0.0.1", "ntp.lab.internal"}, Pools: []string{"pool.lab.internal"}}, Set: keys("ntp")},
		},
		{name: "ntp defaults", doc: "ntp: {servers: ['fd00::1']}\n", want: Config{NTP: &NTP{Enabled: true, Client: "auto", Servers: []string{"fd00::1"}}, Set: keys("ntp")}},
		{name: "ntp null", doc: "ntp:\n", want: Config{NTP: &NTP{Enabled: true, Client: "auto"}, Set: keys("ntp")}},
		{name: "ntp disabled, YAML 1.1 no", doc: "ntp:\n  enabled: no\n", want: Config{NTP: &NTP{Enabled: false, Client: "auto"}, Set: keys("ntp")}},
		{
			name: "ntp unknown sub-key warns",
			doc:  "ntp:\n  servers: [10.0.0.1]\n  peers: [10.0.0.2]\n  config: {confpath: /etc/chrony.conf}\n",
			want: Config{NTP: &NTP{Enabled: true, Client: "auto", Servers: []string{"10.0.0.1"}}, Set: keys("ntp")},
			warnings: []string{
				`seed /dev/vdb user-data line 4: key "ntp.peers" is not supported, ignored`,
				`seed /dev/vdb user-data line 5: key "ntp.config" is not supported, ignored`,
			},
		},
		{name: "ntp chrony", doc: "ntp:\n  ntp_client: chrony\n", err: `seed /dev/vdb user-data line 3: ntp.ntp_client: want "auto" or "systemd-timesyncd" (the only client in the image), got "chrony"`},
		{name: "ntp enabled maybe", doc: "ntp:\n  enabled: maybe\n", err: `seed /dev/vdb user-data line 3: ntp.enabled: want true or false, got "maybe"`},
		{name: "ntp quoted true", doc: "ntp:\n  enabled: 'true'\n", err: `seed /dev/vdb user-data line 3: ntp.enabled: want true or false, got "true"`},
		{name: "ntp bad server", doc: "ntp:\n  servers:\n    - 10.0.0.1\n    - bad_host\n", err: `seed /dev/vdb user-data line 5: ntp.servers[1]: want a host name or IP address, got "bad_host"`},
		{name: "ntp pools scalar", doc: "ntp:\n  pools: pool.lab\n", err: `seed /dev/vdb user-data line 3: ntp.pools: want a list, got "pool.lab"`},
		{name: "ntp list", doc: "ntp: [a]\n", err: "seed /dev/vdb user-data line 2: ntp: want a mapping, got a list"},
		{name: "timezone", doc: "timezone: America/Argentina/Buenos_Aires\n", want: Config{Timezone: "America/Argentina/Buenos_Aires", Set: keys("timezone")}},
		{name: "timezone etc", doc: "timezone: Etc/GMT+5\n", want: Config{Timezone: "Etc/GMT+5", Set: keys("timezone")}},
		{name: "timezone dotdot", doc: "timezone: ../../etc/passwd\n", err: `seed /dev/vdb user-data line 2: timezone: want a zoneinfo name such as "Europe/Berlin", got "../../etc/passwd"`},
		{name: "timezone absolute", doc: "timezone: /Europe/Berlin\n", err: `seed /dev/vdb user-data line 2: timezone: want a zoneinfo name such as "Europe/Berlin", got "/Europe/Berlin"`},
		{name: "timezone blank", doc: "timezone: 'Europe/ Berlin'\n", err: `seed /dev/vdb user-data line 2: timezone: want a zoneinfo name such as "Europe/Berlin", got "Europe/ Berlin"`},
	})
}

func TestHostnameFQDN(t *testing.T) {
	for _, tc := range []struct {
		c          Config
		host, fqdn string
	}{
		{Config{}, "", ""},
		{Config{Hostname: "n1"}, "n1", ""},
		{Config{Hostname: "n1.lab"}, "n1", "n1.lab"},
		{Config{FQDN: "n2.lab.internal"}, "n2", "n2.lab.internal"},
		{Config{Hostname: "n1", FQDN: "n2.lab.internal"}, "n1", "n2.lab.internal"},
	} {
		host, fqdn := tc.c.HostnameFQDN()
		if host != tc.host || fqdn != tc.fqdn {
			t.Errorf("HostnameFQDN(%q, %q) = %q, %q; want %q, %q", tc.c.Hostname, tc.c.FQDN, host, fqdn, tc.host, tc.fqdn)
		}
	}
}

// A document that is not a cloud-config is named by its kind, never
// quoted: it may be any file, a secret one included.
func TestNotCloudConfigIsNotQuoted(t *testing.T) {
	_, warnings, err := Parse("firstboot.config /etc/shadow", []byte("root:$6$SECRET-HASH:19000:0:99999:7:::\n"))
	if err != nil || len(warnings) != 1 {
		t.Fatalf("warnings %q, err %v", warnings, err)
	}
	if want := `firstboot.config /etc/shadow: a document whose first line (38 bytes) is not the header, not "#cloud-config": file ignored`; warnings[0] != want {
		t.Errorf("warning %q, want %q", warnings[0], want)
	}
}
