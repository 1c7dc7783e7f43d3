package cloudconfig

import (
	"reflect"
	"testing"
)

func mustParse(t *testing.T, doc string) Config {
	t.Helper()
	c, _, err := Parse(testSource, []byte("#cloud-config\n"+doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMerge(t *testing.T) {
	base := mustParse(t, `hostname: base
ssh_authorized_keys: [key-a, key-b]
users: [default, alice]
runcmd: [echo base]
ntp: {servers: [10.0.0.1]}
timezone: UTC
appliance:
  role: server
  token: base-token
  node_labels: [a=1]
`)
	over := mustParse(t, `ssh_authorized_keys: [key-c]
users: [bob]
bootcmd: [[echo, over]]
appliance:
  cluster_init: true
  node_labels: [b=2]
`)
	got := Merge(base, over)
	want := Config{
		Hostname:          "base",
		SSHAuthorizedKeys: []string{"key-c"},
		Users:             []User{{Name: "bob", LockPasswd: true}},
		RunCmd:            []Command{{Shell: "echo base"}},
		BootCmd:           []Command{{Argv: []string{"echo", "over"}}},
		NTP:               &NTP{Enabled: true, Client: "auto", Servers: []string{"10.0.0.1"}},
		Timezone:          "UTC",
		Appliance: Appliance{
			Role: "server", ClusterInit: true, Token: "base-token", NodeLabels: []string{"b=2"},
			Set: keys("role", "token", "node_labels", "cluster_init"),
		},
		Set: keys("hostname", "ssh_authorized_keys", "users", "runcmd", "bootcmd", "ntp", "timezone", "appliance"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge:\ngot  %#v\nwant %#v", got, want)
	}
	if err := got.Appliance.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The inputs are untouched.
	if len(base.Set) != 7 || base.Appliance.ClusterInit || len(base.Appliance.Set) != 3 || !base.IncludeDefaultUser {
		t.Errorf("Merge modified base: %+v", base)
	}
}

// An empty list or an explicit false in a later source replaces the earlier
// value: presence, not emptiness, decides.
func TestMergeExplicitEmpty(t *testing.T) {
	base := mustParse(t, "ssh_authorized_keys: [key-a]\nwrite_files: [{path: /a}]\nappliance: {role: server, cluster_init: true}\n")
	over := mustParse(t, "ssh_authorized_keys: []\nwrite_files: []\nappliance: {cluster_init: false}\n")
	got := Merge(base, over)
	if len(got.SSHAuthorizedKeys) != 0 || len(got.WriteFiles) != 0 || got.Appliance.ClusterInit || got.Appliance.Role != "server" {
		t.Errorf("Merge = %+v", got)
	}
	// And a source without a key keeps the earlier value.
	if got := Merge(base, Config{}); !reflect.DeepEqual(got, base) {
		t.Errorf("Merge(base, zero) = %+v, want %+v", got, base)
	}
	if got := Merge(Config{}, Config{}); !reflect.DeepEqual(got, Config{}) {
		t.Errorf("Merge(zero, zero) = %+v", got)
	}
}

// Validate catches what no single source shows.
func TestMergeThenValidate(t *testing.T) {
	base := mustParse(t, "appliance: {role: agent}\n")
	over := mustParse(t, "appliance: {cluster_init: true}\n")
	err := Merge(base, over).Appliance.Validate()
	want := `appliance.cluster_init: only valid with role "server", got role "agent"`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
}
