package agent

import (
	"reflect"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

func TestDecide(t *testing.T) {
	noDefault := testConfig
	noDefault.DefaultRole = ""
	withSerial := testConfig
	withSerial.Nodes = append([]nodeconfig.Node(nil), testConfig.Nodes...)
	withSerial.Nodes[1].Serial = "SN-0002"
	for _, tc := range []struct {
		name string
		in   RoleInput
		want Decision
		err  string
	}{
		{
			name: "inventory by MAC",
			in:   RoleInput{Config: testConfig, MACs: []string{"52:54:00:00:00:01", "52:54:00:00:00:09"}},
			want: Decision{Role: "server", RoleWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01", ClusterInit: true, Hostname: "ctrl-1", HostnameWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01"},
		},
		{
			name: "inventory MAC on second NIC",
			in:   RoleInput{Config: testConfig, MACs: []string{"52:54:00:00:00:09", "52:54:00:00:00:02"}},
			want: Decision{Role: "server", RoleWhy: "inventory entry ctrl-2 matches MAC 52:54:00:00:00:02", Hostname: "ctrl-2", HostnameWhy: "inventory entry ctrl-2 matches MAC 52:54:00:00:00:02"},
		},
		{
			name: "inventory by hostname",
			in:   RoleInput{Config: testConfig, Hostname: "ctrl-2", HostnameFrom: "meta-data local-hostname", MACs: []string{"52:54:00:00:00:09"}},
			want: Decision{Role: "server", RoleWhy: "inventory entry ctrl-2 matches meta-data local-hostname", Hostname: "ctrl-2", HostnameWhy: "meta-data local-hostname"},
		},
		{
			name: "explicit role beats inventory",
			in:   RoleInput{Config: testConfig, Role: "agent", MACs: []string{"52:54:00:00:00:01"}},
			want: Decision{Role: "agent", RoleWhy: "user-data appliance.role", Hostname: "ctrl-1", HostnameWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01"},
		},
		{
			name: "explicit hostname beats inventory",
			in:   RoleInput{Config: testConfig, Hostname: "Gpu-7", HostnameFrom: "user-data hostname", MACs: []string{"52:54:00:00:00:01"}},
			want: Decision{Role: "server", RoleWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01", ClusterInit: true, Hostname: "gpu-7", HostnameWhy: "user-data hostname"},
		},
		{
			name: "inventory by DMI serial",
			in:   RoleInput{Config: withSerial, Serial: "SN-0002", MACs: []string{"52:54:00:00:00:09"}},
			want: Decision{Role: "server", RoleWhy: "inventory entry ctrl-2 matches DMI serial SN-0002", Hostname: "ctrl-2", HostnameWhy: "inventory entry ctrl-2 matches DMI serial SN-0002"},
		},
		{
			name: "MAC beats DMI serial",
			in:   RoleInput{Config: withSerial, Serial: "SN-0002", MACs: []string{"52:54:00:00:00:01"}},
			want: Decision{Role: "server", RoleWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01", ClusterInit: true, Hostname: "ctrl-1", HostnameWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01"},
		},
		{
			name: "explicit server with cluster-init",
			in:   RoleInput{Config: testConfig, Role: "server", ClusterInit: true, MACs: []string{"52:54:00:12:34:56"}},
			want: Decision{Role: "server", RoleWhy: "user-data appliance.role", ClusterInit: true, Hostname: "ml-lab-123456", HostnameWhy: "site ml-lab, MAC 52:54:00:12:34:56"},
		},
		{
			name: "explicit agent on the init entry does not init",
			in:   RoleInput{Config: testConfig, Role: "agent", MACs: []string{"52:54:00:00:00:01"}},
			want: Decision{Role: "agent", RoleWhy: "user-data appliance.role", Hostname: "ctrl-1", HostnameWhy: "inventory entry ctrl-1 matches MAC 52:54:00:00:00:01"},
		},
		{
			name: "unknown serial, default role",
			in:   RoleInput{Config: withSerial, Serial: "SN-9", MACs: []string{"52:54:00:12:34:56"}},
			want: Decision{Role: "agent", RoleWhy: "no inventory entry matches MACs 52:54:00:12:34:56 or DMI serial SN-9, default role", Hostname: "ml-lab-123456", HostnameWhy: "site ml-lab, MAC 52:54:00:12:34:56"},
		},
		{
			name: "default role and derived hostname",
			in:   RoleInput{Config: testConfig, MACs: []string{"52:54:00:12:34:56", "52:54:00:00:00:09"}},
			want: Decision{Role: "agent", RoleWhy: "no inventory entry matches MACs 52:54:00:12:34:56, 52:54:00:00:00:09, default role", Hostname: "ml-lab-123456", HostnameWhy: "site ml-lab, MAC 52:54:00:12:34:56"},
		},
		{
			name: "no default role",
			in:   RoleInput{Config: noDefault, MACs: []string{"52:54:00:12:34:56"}},
			err:  "no inventory entry matches MACs 52:54:00:12:34:56 and the node config has no default role",
		},
		{
			name: "no MAC, no hostname",
			in:   RoleInput{Config: testConfig},
			err:  "no hostname given, no inventory entry matches, and no NIC MAC to derive one from",
		},
		{
			name: "bad hostname",
			in:   RoleInput{Config: testConfig, Hostname: "bad_name", HostnameFrom: "user-data hostname", MACs: []string{"52:54:00:12:34:56"}},
			err:  `hostname "bad_name" (user-data hostname) is not a valid host name`,
		},
		{
			name: "bad role in inventory",
			in: RoleInput{Config: nodeconfig.Config{Site: "s", Nodes: []nodeconfig.Node{{Hostname: "n", MAC: "aa:bb:cc:dd:ee:ff", Role: "master"}}},
				MACs: []string{"aa:bb:cc:dd:ee:ff"}},
			err: `role "master" (inventory entry n matches MAC aa:bb:cc:dd:ee:ff): want "server" or "agent"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Entry != nil {
				tc.want.Entry = entryNamed(tc.in.Config, got.Entry.Hostname)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestNICMACs(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig, nics: map[string]string{"eth1": "52:54:00:00:00:0B", "eth0": "52:54:00:00:00:0a"}})
	// A virtual NIC has no device link and is passed over.
	writeTestFile(t, root, "/sys/class/net/cni0/address", "aa:aa:aa:aa:aa:aa\n")
	got, err := NICMACs(root)
	want := []string{"52:54:00:00:00:0a", "52:54:00:00:00:0b"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("NICMACs = %q, %v; want %q", got, err, want)
	}
}

func entryNamed(c nodeconfig.Config, hostname string) *nodeconfig.Node {
	for i, n := range c.Nodes {
		if n.Hostname == hostname {
			return &c.Nodes[i]
		}
	}
	return nil
}

func TestDMISerial(t *testing.T) {
	for serial, want := range map[string]string{
		"SN-0002\n":                "SN-0002",
		"To Be Filled By O.E.M.\n": "",
		"  \n":                     "",
		"Default string\n":         "",
		"VMware-56 4d 1c 2e\n":     "VMware-56 4d 1c 2e",
	} {
		root := t.TempDir()
		writeTestFile(t, root, dmiSerialPath, serial)
		if got := DMISerial(root); got != want {
			t.Errorf("DMISerial(%q) = %q, want %q", serial, got, want)
		}
	}
	if got := DMISerial(t.TempDir()); got != "" {
		t.Errorf("DMISerial without the file = %q, want \"\"", got)
	}
}
